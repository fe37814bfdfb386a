import ColonyCore
import ColonyTrust
import Crypto
import Foundation

/// Packets per second through one node's whole receive path on one core, with packet
/// authentication on and off (issue 18: on must keep at least half the off throughput).
///
/// Each packet is a ping from a known member carrying `updates` signed alive claims (the
/// shape of gossip). Off: decode it, hand it to the core as from its claimed sender, encode the
/// ack the core answers with. On: the same, plus verifying the packet's MAC first and MACing
/// the ack. Both can also run inside the keyring's envelope (open, then seal the answer).
extension TrustBenchCommand {
    struct Pipeline: Sendable {
        var packetBytes: Int
        var off: Double
        var on: Double
        var sealedOff: Double
        var sealedOn: Double
        var ratio: Double { on / off }
        var sealedRatio: Double { sealedOn / sealedOff }
    }

    static func pipelineBench(seconds: Double, updates: Int = 6) -> Pipeline {
        let meKey = Curve25519.Signing.PrivateKey()
        let peerKey = Curve25519.Signing.PrivateKey()
        let meAuth = Ed25519Authenticator(privateKey: meKey)
        let meID = meAuth.nodeID(for: meAuth.publicKey)
        var table = MemberTable()
        func signed(_ key: Curve25519.Signing.PrivateKey, _ i: Int) -> Member {
            let a = Ed25519Authenticator(privateKey: key)
            var m = Member(
                id: a.nodeID(for: a.publicKey), name: "member-\(i)", address: Address(host: "10.0.0.\(i)", port: 7946),
                tags: ["role": "bench", "zone": "z\(i % 3)"], incarnation: 1)
            m.signature = Signature(publicKey: a.publicKey, bytes: a.sign(SignedClaim.alive(m)))
            return m
        }
        let peer = signed(peerKey, 2)
        table.upsert(peer, at: .zero)
        let others = (0..<updates).map { signed(Curve25519.Signing.PrivateKey(), 10 + $0) }
        for m in others { table.upsert(m, at: .zero) }
        var settings = Settings.lan
        // The bench floods from one sender: no rate limit may cut it short.
        settings.trust.packetsPerSecond = 1e12
        settings.trust.packetBurst = 1e12
        settings.trust.bytesPerSecond = 1e15
        settings.trust.byteBurst = 1e15
        let me = Member(id: meID, name: "me", address: Address(host: "10.0.0.1", port: 7946), incarnation: 1)
        var core = NodeCore(me: me, settings: settings, seed: 1, now: .zero, knownMembers: table)
        core.authenticate(with: meAuth)
        _ = core.start(now: .zero)
        let packet = Packet(from: peer.id, message: .ping(seq: 1, target: meID), updates: others.map { .alive($0) })
        let plain = Wire.encode(packet)
        var meGate = PacketAuthentication(identity: meKey)
        var peerGate = PacketAuthentication(identity: peerKey)
        let wrapped = peerGate.wrap(plain, to: meID, recipientKey: meAuth.publicKey)
        let ringKey = Array(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
        let sealedPlain = Envelope.seal(plain, key: ringKey, sentAtMs: 1)
        let sealedWrapped = Envelope.seal(wrapped, key: ringKey, sentAtMs: 1)
        var now = Instant.zero
        var sink = 0

        func receive(_ bytes: ArraySlice<UInt8>, authenticate: Bool, seal: Bool) {
            guard let p = try? Wire.decode(bytes) else { return }
            now += .microseconds(10)
            for case .send(let answer, _, _) in core.receive(p, from: peer.address, sender: .verified(p.from), now: now)
            {
                var out = Wire.encode(answer)
                if authenticate { out = meGate.wrap(out, to: peer.id, recipientKey: peerGate.publicKey) }
                if seal { out = Envelope.seal(out, key: ringKey, sentAtMs: 1) }
                sink &+= out.count
            }
        }
        func unwrap(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
            guard case .success(let v) = meGate.unwrap(bytes, nowMs: 0), v.sender == peer.id else { return nil }
            return v.packet
        }
        let off = rate(seconds) { receive(plain[...], authenticate: false, seal: false) }
        let on = rate(seconds) {
            if let p = unwrap(wrapped) { receive(p, authenticate: true, seal: false) }
        }
        let sealedOff = rate(seconds) {
            if let o = try? Envelope.open(sealedPlain, keys: [ringKey]) {
                receive(o.plain[...], authenticate: false, seal: true)
            }
        }
        let sealedOn = rate(seconds) {
            if let o = try? Envelope.open(sealedWrapped, keys: [ringKey]), let p = unwrap(o.plain) {
                receive(p, authenticate: true, seal: true)
            }
        }
        if sink == 42 { print("") }
        return Pipeline(packetBytes: wrapped.count, off: off, on: on, sealedOff: sealedOff, sealedOn: sealedOn)
    }

    /// Calls of `body` per second over about `seconds`.
    static func rate(_ seconds: Double, _ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var n = 0
        while true {
            for _ in 0..<64 { body() }
            n += 64
            let s = (clock.now - start).seconds
            if s >= seconds { return Double(n) / s }
        }
    }
}
