import ColonyCore
import ColonyTrust
import Crypto
import Foundation
import Testing

/// A deterministic identity per seed (Ed25519 keys from a 32-byte seed).
private func identity(_ seed: UInt8) -> Curve25519.Signing.PrivateKey {
    try! Curve25519.Signing.PrivateKey(
        rawRepresentation: (0..<32).map { UInt8(truncatingIfNeeded: Int($0) * 13 + Int(seed)) })
}

private func packet(_ count: Int = 120) -> [UInt8] {
    [WireNamespace.protocolV1.rawValue] + (1..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) }
}

private func publicKey(_ k: Curve25519.Signing.PrivateKey) -> [UInt8] { Array(k.publicKey.rawRepresentation) }

@Suite("Packet authentication: every packet to its sender's identity")
struct PacketAuthenticationTests {
    @Test("The Montgomery form of an Ed25519 key is X25519's public key of the same secret")
    func montgomeryMatchesX25519() {
        for seed in 0..<64 {
            let ed = identity(UInt8(seed))
            let expected = Array(MontgomeryKey.privateKey(of: ed).publicKey.rawRepresentation)
            #expect(MontgomeryKey.publicKey(ofEdwards: publicKey(ed)) == expected, "seed \(seed)")
        }
        // Random keys too (swift-crypto's generator).
        for _ in 0..<32 {
            let ed = Curve25519.Signing.PrivateKey()
            #expect(
                MontgomeryKey.publicKey(ofEdwards: publicKey(ed))
                    == Array(MontgomeryKey.privateKey(of: ed).publicKey.rawRepresentation))
        }
    }

    @Test("Malformed Edwards keys have no Montgomery form")
    func malformedKeys() {
        // The neutral point (y = 1), a y at or above p, and the wrong length.
        #expect(MontgomeryKey.publicKey(ofEdwards: [1] + [UInt8](repeating: 0, count: 31)) == nil)
        #expect(MontgomeryKey.publicKey(ofEdwards: [0xED] + [UInt8](repeating: 0xFF, count: 30) + [0x7F]) == nil)
        #expect(MontgomeryKey.publicKey(ofEdwards: [UInt8](repeating: 0xFF, count: 32)) == nil)
        #expect(MontgomeryKey.publicKey(ofEdwards: [1, 2, 3]) == nil)
    }

    @Test("A MACed packet verifies as its sender at its recipient, and nowhere else")
    func macRoundTrip() throws {
        var a = PacketAuthentication(identity: identity(1))
        var b = PacketAuthentication(identity: identity(2))
        var c = PacketAuthentication(identity: identity(3))
        let p = packet()
        let wrapped = a.wrap(p, to: b.id, recipientKey: b.publicKey)
        #expect(WireNamespace(first: wrapped) == .authenticated)
        #expect(wrapped.count == p.count + PacketAuthentication.macOverhead)
        let verified = try b.unwrap(wrapped, nowMs: 0).get()
        #expect(verified.sender == a.id)
        #expect(Array(verified.packet) == p)
        // Meant for B: C (another pair key) cannot verify it.
        #expect(c.unwrap(wrapped, nowMs: 0) == .failure(.badTag))
        // Any bit changed in the packet fails.
        var altered = wrapped
        altered[altered.count - 5] ^= 0x01
        #expect(b.unwrap(altered, nowMs: 0) == .failure(.badTag))
        #expect(b.stats.refused["bad_mac"] == 1)
    }

    @Test("Nobody can make a packet verify as another identity")
    func forgeryAsAnotherFails() {
        var a = PacketAuthentication(identity: identity(1))
        var b = PacketAuthentication(identity: identity(2))
        var e = PacketAuthentication(identity: identity(9))
        // E MACs with its own pair key with B, then claims A's key in the header.
        var forged = e.wrap(packet(), to: b.id, recipientKey: b.publicKey)
        forged.replaceSubrange(1..<33, with: a.publicKey)
        #expect(b.unwrap(forged, nowMs: 0) == .failure(.badTag))
        // Or signs with its own key under A's.
        var signed = e.wrap(packet(), to: nil)
        signed.replaceSubrange(1..<33, with: a.publicKey)
        #expect(b.unwrap(signed, nowMs: 0) == .failure(.badSignature))
        // A's honest packet still verifies.
        #expect((try? b.unwrap(a.wrap(packet(), to: b.id, recipientKey: b.publicKey), nowMs: 0).get().sender) == a.id)
    }

    @Test("To a stranger, a packet is signed; the answer comes back MACed")
    func signedThenMac() throws {
        var joiner = PacketAuthentication(identity: identity(4))
        var seed = PacketAuthentication(identity: identity(5))
        let join = joiner.wrap(packet(), to: nil)
        #expect(WireNamespace(first: join) == .signed)
        #expect(join.count == packet().count + PacketAuthentication.signatureOverhead)
        #expect(try seed.unwrap(join, nowMs: 0).get().sender == joiner.id)
        // The seed learned the joiner's key from the join: its answer is MACed.
        let answer = seed.wrap(packet(60), to: joiner.id)
        #expect(WireNamespace(first: answer) == .authenticated)
        #expect(try joiner.unwrap(answer, nowMs: 0).get().sender == seed.id)
        var altered = join
        altered[40] ^= 0x80
        #expect(seed.unwrap(altered, nowMs: 0) == .failure(.badSignature))
        // A key that does not hash to the named recipient is not used for it.
        #expect(
            WireNamespace(first: seed.wrap(packet(), to: NodeID(high: 1, low: 2), recipientKey: joiner.publicKey))
                == .signed)
    }

    @Test("Plain, truncated and malformed input is refused with a reason")
    func refusals() {
        var b = PacketAuthentication(identity: identity(2))
        #expect(b.unwrap(packet(), nowMs: 0) == .failure(.notAuthenticated))
        #expect(b.unwrap([], nowMs: 0) == .failure(.notAuthenticated))
        #expect(b.unwrap([WireNamespace.authenticated.rawValue, 1, 2], nowMs: 0) == .failure(.truncated(3)))
        #expect(
            b.unwrap([WireNamespace.signed.rawValue] + [UInt8](repeating: 0, count: 96), nowMs: 0)
                != .failure(.notAuthenticated))
        // The neutral point as a sender key agrees nothing.
        let neutral = [WireNamespace.authenticated.rawValue, 1] + [UInt8](repeating: 0, count: 31 + 16) + packet()
        #expect(b.unwrap(neutral, nowMs: 0) == .failure(.malformedKey))
    }

    @Test("Verifying for identities with no cached key spends a bounded budget")
    func strangersAreBudgeted() throws {
        var b = PacketAuthentication(
            identity: identity(2), budget: PacketAuthentication.Budget(perSecond: 10, burst: 2))
        var senders = (10..<14).map { PacketAuthentication(identity: identity(UInt8($0))) }
        var results: [Result<PacketAuthentication.Verified, PacketAuthentication.Refusal>] = []
        for i in senders.indices {
            results.append(b.unwrap(senders[i].wrap(packet(), to: b.id, recipientKey: b.publicKey), nowMs: 1_000))
        }
        #expect(results.filter { (try? $0.get()) != nil }.count == 2)
        #expect(b.stats.refused["over_budget"] == 2)
        // A sender already known costs nothing: it passes with the bucket empty.
        #expect(
            try b.unwrap(senders[0].wrap(packet(), to: b.id, recipientKey: b.publicKey), nowMs: 1_000).get().sender
                == senders[0].id)
        // The bucket refills with time (10 per second).
        #expect(
            try b.unwrap(senders[3].wrap(packet(), to: b.id, recipientKey: b.publicKey), nowMs: 1_200).get().sender
                == senders[3].id)
    }

    @Test("The pair-key cache is bounded")
    func cacheIsBounded() throws {
        var b = PacketAuthentication(identity: identity(2), cacheLimit: 2)
        var senders = (20..<23).map { PacketAuthentication(identity: identity(UInt8($0))) }
        for i in senders.indices {
            _ = try b.unwrap(senders[i].wrap(packet(), to: b.id, recipientKey: b.publicKey), nowMs: 0).get()
        }
        #expect(b.stats.agreements == 3)
        // Two fit: at least one of the three was dropped and must be agreed again.
        for i in senders.indices {
            _ = try b.unwrap(senders[i].wrap(packet(), to: b.id, recipientKey: b.publicKey), nowMs: 0).get()
        }
        #expect(b.stats.agreements > 3)
    }
}
