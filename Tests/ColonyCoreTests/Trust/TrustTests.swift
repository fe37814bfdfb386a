import HashTreeCollections
import Testing

@testable import ColonyCore

// Tests of the core's trust features (docs/design.md §6): per-node signatures on alive and leave
// claims, records, events and queries; signed updates on the wire; per-sender rate limits;
// peer scores (squared penalties, decay, graylisting, eviction proposals); and the audit of
// helpers that ignore ping-reqs.

// MARK: - Helpers

/// A keyed-hash authenticator, the idea of the simulator's `SimAuthenticator`: the public key
/// is 32 bytes naming the id (16 id bytes, 16 zero bytes), and a signature is a 64-byte keyed
/// hash of the message with a secret only that id's holder knows (here derived from the id
/// and a test-wide secret). Unforgeable for the purposes of the core: another node's
/// authenticator computes another secret.
struct TestAuthenticator: Authenticator {
    let id: NodeID
    static let swarmSecret: UInt64 = 0x7E57_C0DE_5EC2_E7ED

    init(_ id: NodeID) { self.id = id }

    var publicKey: [UInt8] { Self.publicKey(for: id) }

    static func publicKey(for id: NodeID) -> [UInt8] { id.bytes + [UInt8](repeating: 0, count: 16) }

    func nodeID(for publicKey: [UInt8]) -> NodeID {
        guard publicKey.count == 32, publicKey[16...].allSatisfy({ $0 == 0 }), let id = NodeID(bytes: publicKey) else {
            return NodeID(high: 0, low: 0)
        }
        return id
    }

    func sign(_ message: [UInt8]) -> [UInt8] { Self.mac(Self.secret(of: id), message) }

    func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        signature == Self.mac(Self.secret(of: nodeID(for: publicKey)), message)
    }

    static func secret(of id: NodeID) -> UInt64 { SplitMix64.mix(swarmSecret ^ id.stableHash) }

    static func mac(_ secret: UInt64, _ message: [UInt8]) -> [UInt8] {
        var h = secret ^ 0xCBF2_9CE4_8422_2325
        for b in message { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        var x = SplitMix64.mix(h ^ UInt64(message.count))
        var out: [UInt8] = []
        for _ in 0..<8 {
            x = SplitMix64.mix(x &+ secret)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: x >> UInt64(s))) }
        }
        return out
    }
}

/// Builders for the trust tests.
enum TT {
    static func auth(_ i: Int) -> TestAuthenticator { TestAuthenticator(Fixture.id(i)) }

    /// A started core for node `i` that knows `members`, signing and verifying with its own
    /// authenticator (authenticated before `start`, as drivers do).
    static func core(_ i: Int, knows members: [Int], settings: Settings = .lan, seed: UInt64 = 1) -> NodeCore {
        var c = NodeCore(
            me: Fixture.member(i), settings: settings, seed: seed, now: .zero, knownMembers: Fixture.table(members))
        c.authenticate(with: auth(i))
        _ = c.start(now: .zero)
        return c
    }

    static func gossip(from i: Int, _ updates: [Update]) -> Packet { Fixture.packet(from: i, .gossip, updates) }

    /// `m` signed (as an alive claim) by `signer`, carrying `key` (the signer's own key unless
    /// given).
    static func signedAlive(_ m: Member, by signer: TestAuthenticator, key: [UInt8]? = nil) -> Member {
        var m = m
        m.signature = Signature(publicKey: key ?? signer.publicKey, bytes: signer.sign(SignedClaim.alive(m)))
        return m
    }

    static func leftSignature(id: NodeID, incarnation: UInt64, by signer: TestAuthenticator, key: [UInt8]? = nil)
        -> Signature
    {
        Signature(
            publicKey: key ?? signer.publicKey, bytes: signer.sign(SignedClaim.left(id: id, incarnation: incarnation)))
    }

    /// Acks sent to node `i`.
    static func acks(_ effects: [Effect], to i: Int) -> Int {
        Fixture.sends(effects).filter { if case .ack = $0.0.message { $0.1.id == Fixture.id(i) } else { false } }.count
    }

    static func graylisted(_ effects: [Effect]) -> [NodeID] {
        Fixture.events(effects).compactMap { if case .peerGraylisted(let id, _) = $0 { id } else { nil } }
    }

    static func forgiven(_ effects: [Effect]) -> [NodeID] {
        Fixture.events(effects).compactMap { if case .peerForgiven(let id, _) = $0 { id } else { nil } }
    }

    static func evictions(_ effects: [Effect]) -> [NodeID] {
        Fixture.events(effects).compactMap { if case .evictionProposed(let id, _) = $0 { id } else { nil } }
    }

    static func queriesReceived(_ effects: [Effect]) -> [Query] {
        Fixture.events(effects).compactMap { if case .queryReceived(let q) = $0 { q } else { nil } }
    }

    /// Tick a core in `stepMs` steps, answering nothing, until it sends a datagram ping.
    static func firstPing(_ core: inout NodeCore, from start: Instant) -> (seq: UInt32, target: NodeID, at: Instant)? {
        var t = start
        for _ in 0..<1000 {
            t = t.advanced(byNanoseconds: 10_000_000)
            for (p, _, via) in Fixture.sends(core.tick(now: t)) where via == .datagram {
                if case .ping(let seq, let target) = p.message { return (seq, target, t) }
            }
        }
        return nil
    }

    /// Round-trip a packet through the wire format: decoded equal, re-encoded byte-identical.
    static func roundTrip(_ p: Packet) throws -> [UInt8] {
        let bytes = Wire.encode(p)
        #expect(Wire.size(of: p) == bytes.count)
        let decoded = try Wire.decode(bytes)
        #expect(decoded == p)
        #expect(Wire.encode(decoded) == bytes)
        return bytes
    }
}

// MARK: - Tests

@Suite(.tags(.node)) struct TrustTests {
    // MARK: 1. Signed alive and leave claims

    @Test func aliveClaimsMustBeSignedByTheMemberItself() throws {
        let authA = TT.auth(0)
        let authC = TT.auth(2)
        var a = TT.core(0, knows: [0, 1, 2])
        var b = TT.core(1, knows: [0, 1, 2])

        // `authenticate` signs `me` (and the table's entry for it).
        let mine = try #require(a.me.signature)
        #expect(mine.publicKey == authA.publicKey)
        #expect(authA.verify(mine.bytes, of: SignedClaim.alive(a.me), publicKey: mine.publicKey))
        #expect(a.member(Fixture.id(0))?.signature == mine)

        // A refutes a suspicion: a new incarnation, signed again.
        _ = a.receive(
            TT.gossip(from: 1, [.suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(1))]),
            from: Fixture.address(1),
            now: Fixture.ms(10))
        #expect(a.me.incarnation == 2)
        let genuine = a.me
        #expect(genuine.signature != nil && genuine.signature != mine)

        // B accepts A's genuinely signed claim.
        let accepted = b.receive(TT.gossip(from: 0, [.alive(genuine)]), from: Fixture.address(0), now: Fixture.ms(20))
        #expect(b.member(Fixture.id(0)) == genuine)
        #expect(Fixture.changes(accepted) == [genuine])
        #expect(b.stats.trust.signaturesRejected == 0)

        // Forgeries of a newer claim (incarnation 3), each relayed by a different stranger.
        var next = genuine
        next.incarnation = 3
        next.signature = nil
        let forgedByC = TT.signedAlive(next, by: authC) // C's key: names C, not A
        let cBytesUnderAsKey = TT.signedAlive(next, by: authC, key: authA.publicKey) // A's key, C's signature
        var addressChanged = TT.signedAlive(next, by: authA)
        addressChanged.address = Address(host: "10.6.6.6", port: 7946)
        var tagsChanged = TT.signedAlive(next, by: authA)
        tagsChanged.tags = ["role": "queen"]
        var nameChanged = TT.signedAlive(next, by: authA)
        nameChanged.name = "mallory"
        var incarnationChanged = TT.signedAlive(next, by: authA)
        incarnationChanged.incarnation = 4
        let unsigned = next
        var keyNotA = authA.publicKey
        keyNotA[31] = 1 // maps to no id
        let foreignKey = TT.signedAlive(next, by: authA, key: keyNotA)
        var shortSignature = TT.signedAlive(next, by: authA)
        shortSignature.signature!.bytes.removeLast()

        let forgeries: [(String, Member)] = [
            ("signed by C with C's key", forgedByC),
            ("signed by C under A's key", cBytesUnderAsKey),
            ("address changed after signing", addressChanged),
            ("tags changed after signing", tagsChanged),
            ("name changed after signing", nameChanged),
            ("incarnation changed after signing", incarnationChanged),
            ("no signature", unsigned),
            ("key that does not map to A", foreignKey),
            ("signature one byte short", shortSignature),
        ]
        var t: Int64 = 100
        for (k, (what, forged)) in forgeries.enumerated() {
            t += 10
            let relay = 20 + k
            let e = b.receive(
                TT.gossip(from: relay, [.alive(forged)]), from: Fixture.address(relay), now: Fixture.ms(t))
            #expect(b.stats.trust.signaturesRejected == k + 1, "\(what)")
            #expect(b.member(Fixture.id(0)) == genuine, "\(what): B's entry for A is unchanged")
            #expect(Fixture.changes(e).isEmpty, "\(what)")
            // The relays are strangers: nothing of theirs to hold to account (members are:
            // see the flood and scoring tests).
            #expect(b.score(of: Fixture.id(relay)) == 0, "\(what): a stranger has no standing to lose")
        }
        #expect(b.queue.entries[.member(Fixture.id(0))]?.update == .alive(genuine), "no forgery was queued for gossip")

        // A forged claim about B itself is ignored, not refuted.
        var aboutB = b.me
        aboutB.incarnation = 9
        aboutB = TT.signedAlive(aboutB, by: authC, key: TT.auth(1).publicKey)
        _ = b.receive(TT.gossip(from: 2, [.alive(aboutB)]), from: Fixture.address(2), now: Fixture.ms(t + 10))
        #expect(b.me.incarnation == 1)
        #expect(b.stats.membership.refutations == 0)
        #expect(b.stats.trust.signaturesRejected == forgeries.count + 1)

        // A stale claim is not news and costs no check: redundant, not rejected.
        let redundant = b.stats.dissemination.redundantUpdates
        _ = b.receive(
            TT.gossip(from: 2, [.alive(Fixture.member(0, incarnation: 1))]), from: Fixture.address(2),
            now: Fixture.ms(t + 20))
        #expect(b.stats.dissemination.redundantUpdates == redundant + 1)
        #expect(b.stats.trust.signaturesRejected == forgeries.count + 1)
    }

    @Test func leaveClaimsMustBeSignedByTheLeaver() throws {
        let authA = TT.auth(0)
        let authC = TT.auth(2)
        var a = TT.core(0, knows: [0, 1, 2])
        var b = TT.core(1, knows: [0, 1, 2])
        // A publishes a signed alive claim at incarnation 2, which B takes.
        _ = a.receive(
            TT.gossip(from: 1, [.suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(1))]),
            from: Fixture.address(1),
            now: Fixture.ms(10))
        _ = b.receive(TT.gossip(from: 0, [.alive(a.me)]), from: Fixture.address(0), now: Fixture.ms(20))
        let before = try #require(b.member(Fixture.id(0)))
        #expect(before.incarnation == 2 && before.status == .alive)

        let forgeries: [(String, Update)] = [
            (
                "signed by C",
                .left(
                    id: Fixture.id(0), incarnation: 2,
                    signature: TT.leftSignature(id: Fixture.id(0), incarnation: 2, by: authC))
            ),
            (
                "C's signature under A's key",
                .left(
                    id: Fixture.id(0), incarnation: 2,
                    signature: TT.leftSignature(id: Fixture.id(0), incarnation: 2, by: authC, key: authA.publicKey))
            ),
            ("unsigned", .left(id: Fixture.id(0), incarnation: 2, signature: nil)),
            (
                "A's signature of another incarnation",
                .left(
                    id: Fixture.id(0), incarnation: 3,
                    signature: TT.leftSignature(id: Fixture.id(0), incarnation: 2, by: authA))
            ),
            ("A's alive signature", .left(id: Fixture.id(0), incarnation: 2, signature: a.me.signature)),
        ]
        for (k, (what, forged)) in forgeries.enumerated() {
            let e = b.receive(
                TT.gossip(from: 20 + k, [forged]), from: Fixture.address(20 + k), now: Fixture.ms(30 + Int64(k)))
            #expect(b.stats.trust.signaturesRejected == k + 1, "\(what)")
            #expect(b.member(Fixture.id(0)) == before, "\(what): B's entry for A is unchanged")
            #expect(Fixture.changes(e).isEmpty, "\(what)")
        }

        // A's own leave is signed and accepted.
        _ = a.leave(now: Fixture.ms(100))
        #expect(a.me.status == .left)
        let sig = try #require(a.me.signature)
        #expect(
            authA.verify(sig.bytes, of: SignedClaim.left(id: Fixture.id(0), incarnation: 2), publicKey: sig.publicKey))
        let leave = try #require(a.queue.entries[.member(Fixture.id(0))]?.update)
        #expect(leave == .left(id: Fixture.id(0), incarnation: 2, signature: sig))
        let e = b.receive(TT.gossip(from: 0, [leave]), from: Fixture.address(0), now: Fixture.ms(110))
        #expect(b.member(Fixture.id(0))?.status == .left)
        #expect(b.member(Fixture.id(0))?.signature == sig, "kept, so B can pass the leave on")
        #expect(Fixture.changes(e).map(\.status) == [.left])
        #expect(b.stats.trust.signaturesRejected == forgeries.count)
        // Passed on, it verifies again at a third node.
        var c = TT.core(2, knows: [0, 1, 2])
        let relayed = try #require(b.queue.entries[.member(Fixture.id(0))]?.update)
        _ = c.receive(TT.gossip(from: 1, [relayed]), from: Fixture.address(1), now: Fixture.ms(120))
        #expect(c.member(Fixture.id(0))?.status == .left)
        #expect(c.stats.trust.signaturesRejected == 0)
    }

    @Test func signedClaimsSurviveAStreamExchange() throws {
        var a = TT.core(0, knows: [0, 1])
        var b = TT.core(1, knows: [0, 1])
        _ = a.receive(
            TT.gossip(from: 1, [.suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(1))]),
            from: Fixture.address(1),
            now: Fixture.ms(10))
        // Push-pull entries carry members with their signatures: A's claim is taken, a
        // forged one for a stranger is not.
        var forged = Fixture.member(7, incarnation: 1)
        forged = TT.signedAlive(forged, by: TT.auth(0), key: TestAuthenticator.publicKey(for: Fixture.id(7)))
        let sync = Sync.entries(exchange: 5, bits: 0, buckets: [0], members: [a.me, forged], isReply: false)
        _ = b.receive(Fixture.packet(from: 0, .sync(sync)), from: Fixture.address(0), via: .stream, now: Fixture.ms(20))
        #expect(b.member(Fixture.id(0)) == a.me)
        #expect(b.member(Fixture.id(7)) == nil)
        #expect(b.stats.trust.signaturesRejected == 1)
    }

    // MARK: 2. Records, events and queries

    @Test func recordsAreVerifiedBeforeTheirDotCountsAsSeen() throws {
        let authA = TT.auth(0)
        let authC = TT.auth(2)
        var a = TT.core(0, knows: [0, 1, 2])
        var b = TT.core(1, knows: [0, 1, 2])
        let blue = Array("blue".utf8)
        let r = try a.put("colour", value: blue, wallMs: 1_000, now: Fixture.ms(10)).0.get()
        let sig = try #require(r.signature)
        #expect(sig.publicKey == authA.publicKey)
        #expect(authA.verify(sig.bytes, of: SignedClaim.record(r), publicKey: sig.publicKey))

        var valueChanged = r
        valueChanged.value = Array("red".utf8)
        var deleted = r
        deleted.value = nil
        var keyChanged = r
        keyChanged.key = "shape"
        var forgedByC = r
        forgedByC.value = Array("red".utf8)
        forgedByC.signature = Signature(publicKey: authA.publicKey, bytes: authC.sign(SignedClaim.record(forgedByC)))
        var unsigned = r
        unsigned.signature = nil
        let forgeries = [valueChanged, deleted, keyChanged, forgedByC, unsigned]
        for (k, forged) in forgeries.enumerated() {
            let e = b.receive(
                TT.gossip(from: 20 + k, [.record(forged)]), from: Fixture.address(20 + k),
                now: Fixture.ms(20 + Int64(k)))
            #expect(b.stats.trust.signaturesRejected == k + 1)
            #expect(RS.keyChanges(e).isEmpty)
            #expect(RS.persistedRecords(e).isEmpty)
            #expect(!b.state.seen.contains(r.dot), "a rejected record does not mark its dot seen")
        }
        #expect(b.get("colour").siblings.isEmpty)
        #expect(b.get("shape").siblings.isEmpty)
        #expect(b.stats.state.recordsApplied == 0)

        // The genuine record, delivered afterwards, is still applied.
        let e = b.receive(TT.gossip(from: 0, [.record(r)]), from: Fixture.address(0), now: Fixture.ms(40))
        #expect(RS.keyChanges(e).map(\.record) == [r])
        #expect(b.get("colour").siblings == [r])
        #expect(b.stats.state.recordsApplied == 1)
        #expect(b.stats.trust.signaturesRejected == forgeries.count)

        // A newer write supersedes it; replaying the old one changes nothing.
        let green = Array("green".utf8)
        let r2 = try a.put("colour", value: green, wallMs: 2_000, now: Fixture.ms(50)).0.get()
        _ = b.receive(TT.gossip(from: 0, [.record(r2)]), from: Fixture.address(0), now: Fixture.ms(60))
        #expect(b.get("colour").siblings.map(\.value) == [green])
        let redundant = b.stats.state.recordsRedundant
        let replay = b.receive(TT.gossip(from: 2, [.record(r)]), from: Fixture.address(2), now: Fixture.ms(70))
        #expect(b.stats.state.recordsRedundant == redundant + 1)
        #expect(RS.keyChanges(replay).isEmpty)
        #expect(b.get("colour").siblings.map(\.value) == [green])
        #expect(b.stats.state.recordsApplied == 2)
        // So does replaying the current one.
        let again = b.receive(TT.gossip(from: 2, [.record(r2)]), from: Fixture.address(2), now: Fixture.ms(80))
        #expect(b.stats.state.recordsRedundant == redundant + 2)
        #expect(RS.keyChanges(again).isEmpty)
        #expect(b.stats.trust.signaturesRejected == forgeries.count)
    }

    @Test func forgedEventsDoNotShadowTheRealOne() throws {
        let authA = TT.auth(0)
        let authC = TT.auth(2)
        var a = TT.core(0, knows: [0, 1, 2])
        var b = TT.core(1, knows: [0, 1, 2])
        let ev = try a.durableEvent("deploy", payload: [1, 2, 3], now: Fixture.ms(10)).0.get()
        let sig = try #require(ev.signature)
        #expect(authA.verify(sig.bytes, of: SignedClaim.event(ev), publicKey: sig.publicKey))

        var forgedC = ev // A's id, signed by C with C's key
        forgedC.payload = [6, 6, 6]
        forgedC.signature = Signature(publicKey: authC.publicKey, bytes: authC.sign(SignedClaim.event(forgedC)))
        var forgedUnderA = ev // C's signature under A's key
        forgedUnderA.payload = [6, 6, 6]
        forgedUnderA.signature = Signature(
            publicKey: authA.publicKey, bytes: authC.sign(SignedClaim.event(forgedUnderA)))
        var renamed = ev // A's signature, name changed
        renamed.name = "destroy"
        var unsigned = ev
        unsigned.signature = nil
        let forgeries = [forgedC, forgedUnderA, renamed, unsigned]
        for (k, forged) in forgeries.enumerated() {
            let e = b.receive(
                TT.gossip(from: 20 + k, [.event(forged)]), from: Fixture.address(20 + k), now: Fixture.ms(20 + Int64(k))
            )
            #expect(b.stats.trust.signaturesRejected == k + 1)
            #expect(RS.userEvents(e).isEmpty)
            #expect(RS.persistedEvents(e).isEmpty)
            #expect(!b.replicated.eventsSeen.contains(ev.id), "a rejected event does not mark its id seen")
        }
        #expect(b.stats.state.eventsReceived == 0)
        #expect(b.lamport == 0, "a forged event does not move the Lamport clock")

        let e = b.receive(TT.gossip(from: 0, [.event(ev)]), from: Fixture.address(0), now: Fixture.ms(40))
        #expect(RS.userEvents(e).map(\.event) == [ev])
        #expect(b.stats.state.eventsReceived == 1)
        #expect(b.recentEvents == [ev])
        // Once delivered, a copy is a duplicate.
        let dup = b.receive(TT.gossip(from: 2, [.event(ev)]), from: Fixture.address(2), now: Fixture.ms(50))
        #expect(RS.userEvents(dup).isEmpty)
        #expect(b.stats.state.eventsRedundant == 1)
        #expect(b.stats.trust.signaturesRejected == forgeries.count)
    }

    @Test func forgedQueriesAreRejectedAndTheRealOneStillArrives() throws {
        let authA = TT.auth(0)
        let authC = TT.auth(2)
        var a = TT.core(0, knows: [0, 1, 2])
        var b = TT.core(1, knows: [0, 1, 2])
        let q = try a.query("uptime", payload: [7], timeout: .seconds(5), now: Fixture.ms(10)).0.get()
        let sig = try #require(q.signature)
        #expect(authA.verify(sig.bytes, of: SignedClaim.query(q), publicKey: sig.publicKey))

        var redirected = q // answers sent elsewhere
        redirected.asker = Address(host: "10.6.6.6", port: 1)
        var forgedC = q
        forgedC.payload = [6]
        forgedC.signature = Signature(publicKey: authC.publicKey, bytes: authC.sign(SignedClaim.query(forgedC)))
        var unsigned = q
        unsigned.signature = nil
        for (k, forged) in [redirected, forgedC, unsigned].enumerated() {
            let e = b.receive(
                TT.gossip(from: 20 + k, [.query(forged)]), from: Fixture.address(20 + k), now: Fixture.ms(20 + Int64(k))
            )
            #expect(b.stats.trust.signaturesRejected == k + 1)
            #expect(TT.queriesReceived(e).isEmpty)
            #expect(!b.replicated.eventsSeen.contains(q.id))
        }
        let e = b.receive(TT.gossip(from: 0, [.query(q)]), from: Fixture.address(0), now: Fixture.ms(40))
        #expect(TT.queriesReceived(e) == [q])
        #expect(b.stats.trust.signaturesRejected == 3)
    }

    // MARK: 3. Without an authenticator

    @Test func withoutAnAuthenticatorNothingIsSignedOrChecked() throws {
        var a = Fixture.core(0, knows: [0, 1, 2])
        var b = Fixture.core(1, knows: [0, 1, 2])
        #expect(a.me.signature == nil)
        let r = try a.put("k", value: [1], wallMs: 1, now: Fixture.ms(1)).0.get()
        let ev = try a.durableEvent("e", payload: [2], now: Fixture.ms(2)).0.get()
        let q = try a.query("q", payload: [3], timeout: .seconds(1), now: Fixture.ms(3)).0.get()
        #expect(r.signature == nil && ev.signature == nil && q.signature == nil)

        // Unsigned claims are taken as before — and so are badly signed ones (not checked).
        var garbage = Fixture.member(2, incarnation: 5)
        garbage.signature = Signature(
            publicKey: [UInt8](repeating: 9, count: 32), bytes: [UInt8](repeating: 9, count: 64))
        let e = b.receive(
            TT.gossip(
                from: 0,
                [
                    .alive(Fixture.member(0, incarnation: 2)), .record(r), .event(ev), .query(q), .alive(garbage),
                ]), from: Fixture.address(0), now: Fixture.ms(10))
        #expect(b.member(Fixture.id(0))?.incarnation == 2)
        #expect(b.member(Fixture.id(2)) == garbage)
        #expect(b.get("k").siblings == [r])
        #expect(RS.userEvents(e).map(\.event) == [ev])
        #expect(TT.queriesReceived(e) == [q])
        _ = b.receive(
            TT.gossip(from: 0, [.left(id: Fixture.id(0), incarnation: 2)]), from: Fixture.address(0),
            now: Fixture.ms(20))
        #expect(b.member(Fixture.id(0))?.status == .left)
        #expect(b.stats.trust.signaturesRejected == 0)
        #expect(b.peerScores.allSatisfy { $0.value.invalid == 0 })
    }

    // MARK: 4. Wire

    @Test func signedUpdatesRoundTripThroughTheWire() throws {
        var a = TT.core(0, knows: [0, 1, 2])
        let r = try a.put("colour", value: Array("blue".utf8), wallMs: 1_000, now: Fixture.ms(1)).0.get()
        let tomb = try a.put("colour", value: nil, wallMs: 1_001, now: Fixture.ms(2)).0.get()
        let ev = try a.durableEvent("deploy", payload: [1, 2], coalesce: true, now: Fixture.ms(3)).0.get()
        let q = try a.query(
            "uptime", payload: [], filter: QueryFilter(names: ["n1"], tags: ["zone": "a", "role": "b"]),
            timeout: .seconds(2), now: Fixture.ms(4)
        ).0.get()
        var tagged = a.me
        tagged.tags = ["role": "queen", "zone": "eu-1"]
        tagged = TT.signedAlive(tagged, by: TT.auth(0))
        let leftSig = TT.leftSignature(id: Fixture.id(0), incarnation: 1, by: TT.auth(0))
        var leftMember = Fixture.member(0, status: .left)
        leftMember.signature = leftSig
        for s in [a.me.signature, r.signature, tomb.signature, ev.signature, q.signature] {
            let s = try #require(s)
            #expect(s.publicKey.count == Signature.publicKeyBytes && s.bytes.count == Signature.signatureBytes)
        }

        let updates: [Update] = [
            .alive(a.me), .alive(tagged), .alive(Fixture.member(2)), .record(r), .record(tomb), .event(ev), .query(q),
            .left(id: Fixture.id(0), incarnation: 1, signature: leftSig), .left(id: Fixture.id(2), incarnation: 1),
        ]
        let gossip = try TT.roundTrip(Packet(from: Fixture.id(0), message: .gossip, updates: updates))
        _ = try TT.roundTrip(
            Packet(
                from: Fixture.id(0), message: .ping(seq: 3, target: Fixture.id(1)), updates: [.alive(a.me), .record(r)])
        )
        for sync: Sync in [
            .join(exchange: 1, members: [a.me]),
            .joinReply(exchange: 2, members: [a.me, tagged, leftMember, Fixture.member(2)]),
            .entries(exchange: 3, bits: 1, buckets: [0, 1], members: [tagged, leftMember], isReply: true),
            .stateRecords(exchange: 4, records: [r, tomb], through: [r.dot], complete: true, digest: []),
            .recentEvents(exchange: 5, events: [ev]),
        ] {
            _ = try TT.roundTrip(Packet(from: Fixture.id(0), message: .sync(sync)))
        }
        // Each update on its own too (durable logs store them so).
        for u in updates {
            let bytes = Wire.encode(u)
            #expect(try Wire.decodeUpdate(bytes) == u)
        }
        // Every strict prefix of a packet fails cleanly.
        for n in 0..<gossip.count {
            #expect(throws: WireError.self) { try Wire.decode(gossip.prefix(n)) }
        }
    }

    @Test func truncatedOrMalformedSignaturesFailToDecode() throws {
        let a = TT.core(0, knows: [0, 1])
        // The packet ends with the member's signature (flag, 32-byte key, 64-byte signature),
        // then its certificate flag (0: none).
        let bytes = Wire.encode(Packet(from: Fixture.id(0), message: .gossip, updates: [.alive(a.me)]))
        let sigBytes = Signature.publicKeyBytes + Signature.signatureBytes
        let flagAt = bytes.count - 1 - sigBytes - 1
        #expect(bytes[flagAt] == 1)
        #expect(bytes.last == 0)
        for cut in 1...(sigBytes + 2) {
            let short = Array(bytes.dropLast(cut))
            #expect(throws: WireError.truncated(offset: short.count)) { try Wire.decode(short) }
        }
        // A flag that is neither 0 nor 1.
        var badFlag = bytes
        badFlag[flagAt] = 2
        #expect(throws: WireError.valueOutOfRange(field: "signature flag", offset: flagAt)) { try Wire.decode(badFlag) }
        // Signature bytes left over after an unsigned flag: they cannot decode as what follows.
        var unsignedFlag = bytes
        unsignedFlag[flagAt] = 0
        #expect(throws: WireError.self) { try Wire.decode(unsignedFlag) }
        // A record and an event with truncated signatures.
        var b = TT.core(1, knows: [0, 1])
        let r = try b.put("k", value: [1], wallMs: 1, now: Fixture.ms(1)).0.get()
        let ev = try b.durableEvent("e", payload: [], now: Fixture.ms(2)).0.get()
        for u: Update in [
            .record(r), .event(ev),
            .left(
                id: Fixture.id(1), incarnation: 1,
                signature: TT.leftSignature(id: Fixture.id(1), incarnation: 1, by: TT.auth(1))),
        ] {
            let full = Wire.encode(Packet(from: Fixture.id(1), message: .gossip, updates: [u]))
            let short = Array(full.dropLast(10))
            #expect(throws: WireError.truncated(offset: short.count)) { try Wire.decode(short) }
        }
    }

    // MARK: 5. Rate limits

    static var tightLimits: Settings {
        var s = Settings.lan
        s.trust.packetsPerSecond = 10
        s.trust.packetBurst = 5
        s.trust.strangerShare = 2
        return s
    }

    @Test func floodBeyondTheBurstIsDroppedAndHeldAgainstTheSender() throws {
        var b = Fixture.core(1, knows: [0, 1, 2], settings: Self.tightLimits)
        let x = 2
        func ping(_ seq: UInt32, _ updates: [Update] = [], at ms: Int64) -> [Effect] {
            b.receive(
                Fixture.packet(from: x, .ping(seq: seq, target: Fixture.id(1)), updates), from: Fixture.address(x),
                now: Fixture.ms(ms))
        }

        // Window 1 (t = 100 ms): the burst of 5 passes, the rest is dropped with its updates.
        var acks = 0
        for s in 1...5 { acks += TT.acks(ping(UInt32(s), at: 100), to: x) }
        #expect(acks == 5)
        let dropped = ping(6, [.alive(Fixture.member(7))], at: 100)
        #expect(TT.acks(dropped, to: x) == 0)
        #expect(TT.acks(ping(7, at: 100), to: x) == 0)
        #expect(b.stats.trust.rateLimited == 2)
        #expect(b.member(Fixture.id(7)) == nil, "updates in a dropped packet are not applied")
        #expect(b.score(of: Fixture.id(x)) == -5, "one breach per 100 ms window, however many packets")

        // One second later the bucket has refilled (to the burst, not beyond).
        let refilled = ping(8, [.alive(Fixture.member(7))], at: 1_100)
        #expect(TT.acks(refilled, to: x) == 1)
        #expect(b.member(Fixture.id(7)) != nil)
        #expect(b.score(of: Fixture.id(x)) == -4, "a first delivery is rewarded")
        acks = 0
        for s in 9...12 { acks += TT.acks(ping(UInt32(s), at: 1_100), to: x) }
        #expect(acks == 4)
        #expect(TT.acks(ping(13, at: 1_100), to: x) == 0)
        #expect(b.stats.trust.rateLimited == 3)
        #expect(b.score(of: Fixture.id(x)) == -5 * 4 + 1, "penalties grow with the square of the breaches")
        #expect(!b.isGraylisted(Fixture.id(x)))

        // Window 3 (100 ms later, one token back): the third breach graylists it.
        #expect(TT.acks(ping(14, at: 1_200), to: x) == 1)
        let third = ping(15, at: 1_200)
        #expect(TT.acks(third, to: x) == 0)
        #expect(b.score(of: Fixture.id(x)) == -5 * 9 + 1)
        #expect(TT.graylisted(third) == [Fixture.id(x)])
        #expect(b.isGraylisted(Fixture.id(x)))
        #expect(b.stats.trust.peersGraylisted == 1)
        #expect(b.stats.trust.offences == 3)

        // Graylisted: its piggybacked news is ignored, but its pings are still acked.
        let later = ping(
            16, [.alive(Fixture.member(8)), .suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(x))], at: 2_200
        )
        #expect(TT.acks(later, to: x) == 1)
        #expect(b.stats.trust.graylistedUpdatesIgnored == 2)
        #expect(b.member(Fixture.id(8)) == nil)
        #expect(b.member(Fixture.id(0))?.status == .alive)
        #expect(TT.graylisted(later).isEmpty, "graylisted once, announced once")
        // Another member's packets are unaffected.
        _ = b.receive(TT.gossip(from: 0, [.alive(Fixture.member(8))]), from: Fixture.address(0), now: Fixture.ms(2_200))
        #expect(b.member(Fixture.id(8)) != nil)
    }

    @Test func strangersShareOneBucket() {
        var b = Fixture.core(1, knows: [0, 1, 2], settings: Self.tightLimits)
        func acked(_ from: Int, _ seq: UInt32) -> Bool {
            TT.acks(
                b.receive(
                    Fixture.packet(from: from, .ping(seq: seq, target: Fixture.id(1))), from: Fixture.address(from),
                    now: Fixture.ms(100)),
                to: from) == 1
        }
        // Strangers 50 and 51 share a bucket of 5 × 2 = 10 packets.
        #expect((1...6).filter { acked(50, UInt32($0)) }.count == 6)
        #expect((1...6).filter { acked(51, UInt32($0)) }.count == 4)
        #expect(!acked(52, 1), "a third stranger finds the shared bucket empty")
        #expect(b.stats.trust.rateLimited == 3)
        // A member has its own bucket.
        #expect(acked(2, 1))
        // Strangers are not scored (there is no one to hold it against).
        #expect(b.peerScores.isEmpty)
        #expect(b.stats.trust.offences == 0)
    }

    @Test func byteBudgetLimitsDatagramsOnly() {
        var s = Settings.lan
        s.trust.bytesPerSecond = 1_000
        s.trust.byteBurst = 1_000
        var b = Fixture.core(1, knows: [0, 1, 2], settings: s)
        let p = Fixture.packet(from: 2, .ping(seq: 1, target: Fixture.id(1)))
        #expect(TT.acks(b.receive(p, from: Fixture.address(2), bytes: 600, now: Fixture.ms(10)), to: 2) == 1)
        #expect(TT.acks(b.receive(p, from: Fixture.address(2), bytes: 600, now: Fixture.ms(10)), to: 2) == 0)
        #expect(b.stats.trust.rateLimited == 1)
        // Stream frames are not billed by the byte.
        #expect(
            TT.acks(b.receive(p, from: Fixture.address(2), via: .stream, bytes: 600, now: Fixture.ms(10)), to: 2) == 1)
        // 400 bytes were left; 100 ms refills 100 more: 500 is not enough, 600 is.
        #expect(TT.acks(b.receive(p, from: Fixture.address(2), bytes: 600, now: Fixture.ms(110)), to: 2) == 0)
        #expect(b.stats.trust.rateLimited == 2)
        #expect(TT.acks(b.receive(p, from: Fixture.address(2), bytes: 600, now: Fixture.ms(210)), to: 2) == 1)
        #expect(b.stats.trust.rateLimited == 2)
    }

    // MARK: 6. Scores

    @Test func penaltiesAreSquaredDecayAndAreForgiven() throws {
        let x = Fixture.id(2)
        var b = TT.core(1, knows: [0, 1, 2])
        // X re-announces itself through node 0 (so B knows the address X sends from);
        // node 0 is rewarded for the first delivery, a repeat earns nothing.
        let announce = TT.signedAlive(Fixture.member(2, incarnation: 2), by: TT.auth(2))
        _ = b.receive(TT.gossip(from: 0, [.alive(announce)]), from: Fixture.address(0), now: Fixture.ms(10))
        #expect(b.member(x) == announce)
        #expect(b.score(of: Fixture.id(0)) == 1)
        _ = b.receive(TT.gossip(from: 0, [.alive(announce)]), from: Fixture.address(0), now: Fixture.ms(11))
        #expect(b.score(of: Fixture.id(0)) == 1)

        // One invalid signature…
        var forged = Fixture.member(0, incarnation: 5)
        forged = TT.signedAlive(forged, by: TT.auth(2), key: TT.auth(0).publicKey)
        let first = b.receive(TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(2), now: Fixture.ms(20))
        let one = b.score(of: x)
        #expect(one == -20)
        #expect(TT.graylisted(first).isEmpty)
        // …then three malformed packets from X's address: four offences cost 16 times one.
        var effects: [Effect] = []
        for k in 0..<3 {
            effects += b.rejected(sender: .verified(x), from: Fixture.address(2), now: Fixture.ms(21 + Int64(k)))
        }
        let four = b.score(of: x)
        #expect(four == -320)
        #expect(one > four / 4, "one offence costs less than a quarter of four")
        #expect(TT.graylisted(effects) == [x], "graylisted once, below -30")
        #expect(TT.evictions(effects) == [x], "eviction proposed once, below -300")
        #expect(b.isGraylisted(x))
        #expect(b.stats.trust.packetsRejected == 3)
        #expect(b.stats.trust.offences == 4)
        // Another offence announces nothing new.
        let fifth = b.rejected(sender: .verified(x), from: Fixture.address(2), now: Fixture.ms(30))
        #expect(Fixture.events(fifth).isEmpty)
        #expect(b.score(of: x) == -500)

        // An address no member uses: counted, held against no one.
        let scores = b.peerScores
        _ = b.rejected(from: Address(host: "10.9.9.9", port: 1), now: Fixture.ms(40))
        #expect(b.stats.trust.packetsRejected == 5)
        #expect(b.peerScores == scores)
        #expect(b.stats.trust.offences == 5)

        // Decay: every second penalties shrink by 2 %. Expected forgiveness: the first tick
        // at which -20·(5·0.98^k)² ≥ -30.
        var invalid = 5.0
        var expectedTick = 0
        while -20 * invalid * invalid < -30 {
            invalid *= 0.98
            expectedTick += 1
        }
        var previous = b.score(of: x)
        var forgivenAt: [Int] = []
        for k in 1...(expectedTick + 10) {
            // The decay timer (armed at 10 ms by node 0's reward) fires once a second: once per tick.
            let e = b.tick(now: Fixture.ms(20 + Int64(k) * 1_000))
            let now = b.score(of: x)
            #expect(now > previous, "tick \(k): the score recovers")
            previous = now
            if TT.forgiven(e).contains(x) { forgivenAt.append(k) }
            #expect(TT.evictions(e).isEmpty && TT.graylisted(e).isEmpty)
            #expect(b.isGraylisted(x) == (k < expectedTick))
        }
        #expect(forgivenAt == [expectedTick])
        #expect(b.score(of: x) >= -30)
        #expect(b.score(of: Fixture.id(0)) < 1, "rewards fade too")
    }

    @Test func aSecondOffenceGraylistsAndGraylistedUpdatesGoUnchecked() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        let forged = TT.signedAlive(Fixture.member(0, incarnation: 5), by: TT.auth(3), key: TT.auth(0).publicKey)
        // Sent via different relays: each gets one offence, -20; nobody is graylisted.
        var effects: [Effect] = []
        for (k, relay) in [2, 3].enumerated() {
            effects += b.receive(
                TT.gossip(from: relay, [.alive(forged)]), from: Fixture.address(relay), now: Fixture.ms(10 + Int64(k)))
        }
        #expect(b.score(of: Fixture.id(2)) == -20 && b.score(of: Fixture.id(3)) == -20)
        #expect(TT.graylisted(effects).isEmpty && TT.evictions(effects).isEmpty)
        #expect(b.stats.trust.signaturesRejected == 2)
        // A second forgery from relay 2: -80, graylisted, no eviction yet.
        let second = b.receive(TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(2), now: Fixture.ms(20))
        #expect(b.score(of: Fixture.id(2)) == -80)
        #expect(TT.graylisted(second) == [Fixture.id(2)])
        #expect(TT.evictions(second).isEmpty)
        // Graylisted: its updates are no longer even checked (ignored instead).
        _ = b.receive(TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(2), now: Fixture.ms(30))
        #expect(b.stats.trust.signaturesRejected == 3)
        #expect(b.stats.trust.graylistedUpdatesIgnored == 1)
        #expect(b.score(of: Fixture.id(2)) == -80)
    }

    // MARK: 7. Freeloading helpers

    @Test func helperThatIgnoresPingReqsButAnswersTheAuditIsPenalized() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(TT.firstPing(&a, from: .zero))
        // The target does not ack: at the probe timeout, three helpers are asked.
        let asked = advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        let helpers = Fixture.sends(asked).compactMap { s -> NodeID? in
            if case .pingReq(let seq, let target, _) = s.0.message, seq == ping.seq, target == ping.target {
                s.1.id
            } else {
                nil
            }
        }
        try #require(helpers.count == 3)
        let nacker = helpers[0]
        let freeloader = helpers[1]
        let unreachable = helpers[2]
        func address(_ id: NodeID) -> Address { Fixture.address(Int(id.high)) }

        // The nacker answers in time; the other two say nothing.
        _ = a.receive(
            Packet(from: nacker, message: .nack(seq: ping.seq)), from: address(nacker),
            now: ping.at + .milliseconds(920))
        // Two probe timeouts after the ping-reqs, the silent helpers are pinged directly.
        let auditAt = ping.at + .milliseconds(500 + 1_000)
        advance(&a, from: ping.at + .milliseconds(920), to: ping.at + .milliseconds(1_490))
        #expect(a.trust.auditPings.isEmpty)
        let audit = advance(&a, from: ping.at + .milliseconds(1_490), to: auditAt)
        let audits = a.trust.auditPings
        #expect(Set(audits.values) == [freeloader, unreachable], "the nacker is not audited")
        for (seq, helper) in audits {
            #expect(
                Fixture.sends(audit).contains {
                    $0.0.message == .ping(seq: seq, target: helper)
                        && $0.1 == Peer(id: helper, address: address(helper))
                })
        }
        #expect(a.stats.trust.unansweredPingReqs == 0)

        // The freeloader answers the audit ping: it was reachable, so it ignored us — or the
        // loss lost our request or its answer. One ignored request is not a verdict: it is
        // asked again at once to probe us (Trust+Helpers.swift, issue 17).
        let freeloaderSeq = try #require(audits.first { $0.value == freeloader }?.key)
        let unreachableSeq = try #require(audits.first { $0.value == unreachable }?.key)
        let answered = a.receive(
            Packet(from: freeloader, message: .ack(seq: freeloaderSeq)), from: address(freeloader),
            now: auditAt + .milliseconds(20))
        #expect(a.stats.trust.unansweredPingReqs == 1)
        #expect(a.score(of: freeloader) == 0)
        #expect(TT.graylisted(answered).isEmpty)
        #expect(a.trust.ignoredStreaks[freeloader] == 1)
        let reaudits = Fixture.sends(answered).filter {
            if case .pingReq(_, let target, _) = $0.0.message {
                target == a.me.id && $0.1.id == freeloader
            } else {
                false
            }
        }
        #expect(reaudits.count == 1, "the freeloader is asked to probe us")
        // The unreachable helper never answers: after the audit timeout nothing is held
        // against it, even if a late ack turns up.
        advance(&a, from: auditAt + .milliseconds(20), to: auditAt + .milliseconds(600))
        #expect(a.trust.auditPings[unreachableSeq] == nil)
        _ = a.receive(
            Packet(from: unreachable, message: .ack(seq: unreachableSeq)), from: address(unreachable),
            now: auditAt + .milliseconds(610))
        #expect(a.stats.trust.unansweredPingReqs == 1)
        #expect(a.score(of: unreachable) == 0)
        #expect(a.score(of: nacker) == 0)
        // A repeated ack for the audit counts once.
        _ = a.receive(
            Packet(from: freeloader, message: .ack(seq: freeloaderSeq)), from: address(freeloader),
            now: auditAt + .milliseconds(620))
        #expect(a.stats.trust.unansweredPingReqs == 1)

        // The freeloader keeps ignoring the re-audits while answering every direct ping; every
        // other member answers pings and ping-reqs. The verdict comes when the run reaches what
        // the measured loss allows (the first probe of this test went unanswered, so a little
        // more than three), and not a request before.
        var t = auditAt + .milliseconds(620)
        var verdictAt: (run: Int, needed: Int)?
        var step = 0
        while verdictAt == nil, step < 3_000 {
            step += 1
            let now = t + .milliseconds(10)
            var effects = a.tick(now: now)
            t = now
            for (packet, to, _) in Fixture.sends(effects) {
                guard let id = to.id else { continue }
                switch packet.message {
                case .ping(let seq, _) where a.trust.auditPings[seq] == id:
                    // The audit ping: the freeloader answers it; see what that earns it.
                    let needed = Trust.ignoredRunNeeded(probeSuccess: a.membership.probeRecord.success)
                    let run = (a.trust.ignoredStreaks[id] ?? 0) + 1
                    let verdict = a.receive(Packet(from: id, message: .ack(seq: seq)), from: to.address, now: now)
                    let penalized = TT.graylisted(verdict) == [id]
                    #expect(penalized == (run >= needed), "run \(run) of \(needed)")
                    if penalized { verdictAt = (run, needed) }
                    effects += verdict
                case .ping(let seq, _):
                    _ = a.receive(Packet(from: id, message: .ack(seq: seq)), from: to.address, now: now)
                case .pingReq(let seq, _, _) where id != freeloader:
                    _ = a.receive(Packet(from: id, message: .nack(seq: seq)), from: to.address, now: now)
                default:
                    break
                }
            }
        }
        let verdict = try #require(verdictAt, "the freeloader was never penalized")
        #expect(verdict.run >= 3 && verdict.run >= verdict.needed, "run \(verdict.run), needed \(verdict.needed)")
        #expect(a.score(of: freeloader) < a.settings.trust.graylistThreshold)
        #expect(a.score(of: unreachable) >= 0)
        #expect(a.score(of: nacker) >= 0)
    }

    @Test func helperThatForwardsTheAckIsRewardedNotAudited() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(TT.firstPing(&a, from: .zero))
        let asked = advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        let helpers = Fixture.sends(asked).compactMap { s -> NodeID? in
            if case .pingReq(let seq, _, _) = s.0.message, seq == ping.seq { s.1.id } else { nil }
        }
        try #require(helpers.count == 3)
        // One helper forwards the target's ack; the others nack.
        _ = a.receive(
            Packet(from: helpers[0], message: .ack(seq: ping.seq)), from: Fixture.address(Int(helpers[0].high)),
            now: ping.at + .milliseconds(600))
        for h in helpers.dropFirst() {
            _ = a.receive(
                Packet(from: h, message: .nack(seq: ping.seq)), from: Fixture.address(Int(h.high)),
                now: ping.at + .milliseconds(900))
        }
        advance(&a, from: ping.at + .milliseconds(900), to: ping.at + .milliseconds(1_600))
        #expect(a.trust.auditPings.isEmpty)
        #expect(a.score(of: helpers[0]) > 0, "a timely ack through a helper is rewarded")
        #expect(a.member(ping.target)?.status == .alive)
        #expect(a.stats.trust.unansweredPingReqs == 0)
    }

    // MARK: Regressions (bugs found in review, fixed)

    @Test func aForgedOwnRecordDoesNotMoveTheWriteCounter() throws {
        // Review found applyRecord raised writeCounter for a record of our own origin before
        // verifying it: one unsigned record could exhaust an authenticating node's counter.
        var b = TT.core(1, knows: [0, 1, 2])
        let forged = RS.record("k", [1], Fixture.id(1), (UInt64(1) << 62) - 1)
        _ = b.receive(TT.gossip(from: 2, [.record(forged)]), from: Fixture.address(2), now: Fixture.ms(10))
        #expect(b.stats.trust.signaturesRejected == 1)
        #expect(b.get("k").siblings.isEmpty)
        let first = b.put("x", value: [1], wallMs: 1, now: Fixture.ms(20)).0
        let second = b.put("y", value: [1], wallMs: 1, now: Fixture.ms(30)).0
        #expect(b.replicated.writeCounter == 2)
        #expect((try? first.get())?.dot.counter == 1)
        #expect((try? second.get())?.dot.counter == 2)
    }

    @Test func syncThroughCannotLetARejectedRecordShadowTheRealOne() throws {
        // Review found a state-sync answer's `through` advanced `seen` past records that did
        // not verify, making the genuine record a "duplicate" forever. `through` now reaches
        // only as far as signed evidence.
        var a = TT.core(0, knows: [0, 1, 2])
        var b = TT.core(1, knows: [0, 1, 2])
        let r = try a.put("colour", value: [1], wallMs: 1_000, now: Fixture.ms(10)).0.get()
        var altered = r
        altered.value = [2]
        let sync = Sync.stateRecords(exchange: 9, records: [altered], through: [r.dot], complete: true, digest: [])
        _ = b.receive(Fixture.packet(from: 2, .sync(sync)), from: Fixture.address(2), via: .stream, now: Fixture.ms(20))
        #expect(b.stats.trust.signaturesRejected == 1)
        #expect(b.get("colour").siblings.isEmpty)
        _ = b.receive(TT.gossip(from: 0, [.record(r)]), from: Fixture.address(0), now: Fixture.ms(30))
        #expect(b.stats.state.recordsRedundant == 0)
        #expect(b.get("colour").siblings == [r])
    }

    @Test func aGraylistedPeersPushPullIsIgnoredToo() {
        // A graylisted peer's stream exchanges (push-pull entries, join, state records) are
        // ignored like its piggybacked updates.
        var b = TT.core(1, knows: [0, 1, 2, 3])
        let forged = TT.signedAlive(Fixture.member(0, incarnation: 5), by: TT.auth(2), key: TT.auth(0).publicKey)
        for k in 0..<2 {
            _ = b.receive(
                TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(2), now: Fixture.ms(10 + Int64(k)))
        }
        #expect(b.isGraylisted(Fixture.id(2)))
        _ = b.receive(
            TT.gossip(from: 2, [.suspect(id: Fixture.id(3), incarnation: 1, from: Fixture.id(2))]),
            from: Fixture.address(2),
            now: Fixture.ms(12))
        #expect(b.member(Fixture.id(3))?.status == .alive, "piggybacked: ignored")
        let sync = Sync.entries(
            exchange: 4, bits: 0, buckets: [0], members: [Fixture.member(3, status: .dead)], isReply: false)
        _ = b.receive(Fixture.packet(from: 2, .sync(sync)), from: Fixture.address(2), via: .stream, now: Fixture.ms(13))
        #expect(b.member(Fixture.id(3))?.status == .alive)
    }

    @Test func malformedPacketsFromInitialMembersAreHeldAgainstThem() {
        // rejected(from:) finds members the core was built knowing (not yet indexed by
        // address) too.
        var b = Fixture.core(1, knows: [0, 1, 2])
        _ = b.rejected(from: Fixture.address(2), now: Fixture.ms(10))
        #expect(b.stats.trust.packetsRejected == 1)
        #expect(b.score(of: Fixture.id(2)) == -20)
        // A second one: squared.
        _ = b.rejected(from: Fixture.address(2), now: Fixture.ms(30))
        #expect(b.score(of: Fixture.id(2)) == -80)
    }

    /// A packet claiming to be from member 2 but authenticated as member 3 (what the gate
    /// proves for a spoofed `from`): dropped before anything in it is looked at, and nobody's
    /// standing changes (a spoofed `from` cannot get 2 graylisted).
    @Test func aSpoofedSenderIsNotHeldToAccount() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        let forged = TT.signedAlive(Fixture.member(0, incarnation: 5), by: TT.auth(3), key: TT.auth(0).publicKey)
        for k in 0..<3 {
            _ = b.receive(
                TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(2), sender: .verified(Fixture.id(3)),
                now: Fixture.ms(10 + Int64(k)))
        }
        #expect(b.stats.trust.unauthenticated == 3)
        #expect(b.stats.trust.signaturesRejected == 0)
        #expect(b.score(of: Fixture.id(2)) == 0 && b.score(of: Fixture.id(3)) == 0)
        #expect(!b.isGraylisted(Fixture.id(2)))
        // Unverified packets (a plain packet to a node with an identity) are dropped too.
        _ = b.receive(
            TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(2), sender: .unverified, now: Fixture.ms(15))
        #expect(b.stats.trust.unauthenticated == 4)
        // Authenticated as 2, the same packet counts against 2, from whatever address.
        _ = b.receive(
            TT.gossip(from: 2, [.alive(forged)]), from: Fixture.address(3), sender: .verified(Fixture.id(2)),
            now: Fixture.ms(20))
        #expect(b.score(of: Fixture.id(2)) == -20)
    }

    /// Event anti-entropy: an event gossip missed reaches a node through a state sync, in
    /// both directions (the initiator lacks one, the peer lacks another).
    @Test func missedEventsArriveThroughStateSync() throws {
        var a = TT.core(0, knows: [0, 1])
        var b = TT.core(1, knows: [0, 1])
        let ea = try a.durableEvent("from-a", payload: [1], now: Fixture.ms(10)).0.get()
        let eb = try b.durableEvent("from-b", payload: [2], now: Fixture.ms(10)).0.get()
        #expect(!b.replicated.eventsSeen.contains(ea.id) && !a.replicated.eventsSeen.contains(eb.id))
        a.startStateSync(with: Peer(id: Fixture.id(1), address: Fixture.address(1)))
        // Shuttle stream packets between the two until quiet.
        var pending = Fixture.sends(a.flush()).filter { $0.2 == .stream }.map { (to: 1, packet: $0.0) }
        var t: Int64 = 20
        var rounds = 0
        while !pending.isEmpty && rounds < 20 {
            rounds += 1
            t += 1
            var next: [(to: Int, packet: Packet)] = []
            for (to, packet) in pending {
                let effects =
                    to == 1
                    ? b.receive(packet, from: Fixture.address(0), via: .stream, now: Fixture.ms(t))
                    : a.receive(packet, from: Fixture.address(1), via: .stream, now: Fixture.ms(t))
                next += Fixture.sends(effects).filter { $0.2 == .stream }.map { (to: to == 1 ? 0 : 1, packet: $0.0) }
            }
            pending = next
        }
        #expect(rounds < 20, "the exchange ends")
        #expect(a.replicated.eventsSeen.contains(eb.id), "the initiator got the event it missed")
        #expect(b.replicated.eventsSeen.contains(ea.id), "the peer got the event it missed")
    }
}
