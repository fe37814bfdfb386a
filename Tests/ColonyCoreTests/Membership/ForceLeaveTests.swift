import Testing

@testable import ColonyCore

/// `colony force-leave` (Serf's force-leave, Consul's `-prune`): an operator's order, carried by
/// the internal query `_colony-force-leave` to every member, which makes a failed member `left`
/// (or removes it) — and a member's own order refused where operators are required.
@Suite("Force-leave")
struct ForceLeaveTests {
    static let wall: UInt64 = 1_700_000_000_000
    static let failed = 4

    /// Nodes 0…3, authenticated, that all hold node 4 dead at incarnation 1 (node 4 has no
    /// core: nothing it is sent arrives), wall clocks anchored. `operators`: operator keys
    /// configured.
    static func swarm(operators: Bool = true) -> Net {
        var s = Settings.lan
        if operators { s.trust.operatorKeys = [OperatorOrderTests.operatorKey] }
        var table = Fixture.table([0, 1, 2, 3])
        table.upsert(Fixture.member(failed, status: .dead), at: .zero)
        var net = Net([:])
        for i in 0..<4 {
            var c = NodeCore(me: Fixture.member(i), settings: s, seed: UInt64(i + 1), now: .zero, knownMembers: table)
            c.authenticate(with: TT.auth(i))
            let effects = c.start(now: .zero)
            c.anchorWallClock(ms: wall, now: .zero)
            net.cores[i] = c
            net.absorb(effects, from: i)
        }
        return net
    }

    /// The operator's order for `order`, issued at `order.issuedAtMs`.
    static func signed(_ order: OperatorOrder, by id: NodeID = OperatorOrderTests.operatorID) -> TimedOrder {
        TimedOrder(signature: OperatorOrderTests.order(order, by: id), issuedAtMs: order.issuedAtMs ?? 0)
    }

    static func order(prune: Bool = false, incarnation: UInt64 = 1, at: UInt64 = wall) -> OperatorOrder {
        .forceLeave(id: Fixture.id(failed), incarnation: incarnation, prune: prune, issuedAtMs: at)
    }

    /// Let gossip carry what is queued (a query spreads on the gossip timer) and the answers.
    static func spread(_ net: inout Net) { net.run(until: net.now + .seconds(3)) }

    /// Send `order` from node `from` through the public API; let it spread.
    static func forceLeave(
        _ net: inout Net, from: Int, prune: Bool = false, order: TimedOrder?
    ) -> Result<ForceLeaveRequest, ForceLeaveError> {
        let (result, effects) = net.cores[from]!.forceLeave(
            Fixture.id(failed), prune: prune, order: order, now: net.now)
        net.absorb(effects, from: from)
        spread(&net)
        return result
    }

    /// The answers node `i` received, tallied.
    static func tally(_ net: Net, at i: Int, _ request: ForceLeaveRequest) -> ForceLeaveSummary {
        var summary = request.summary
        for case .queryResponse(let r) in net.events(at: i) where r.query == request.query.id {
            _ = summary.record(r)
        }
        return summary
    }

    /// Send a raw force-leave query from node `from` (as a member that skips its own checks would).
    static func rawQuery(_ net: inout Net, from: Int, _ f: ForceLeave) -> Query? {
        let (result, effects) = net.cores[from]!.query(
            .forceLeave, payload: f.encoded, timeout: .seconds(5), now: net.now)
        net.absorb(effects, from: from)
        spread(&net)
        return try? result.get()
    }

    static func status(_ net: Net, _ i: Int) -> MemberStatus? { net.cores[i]!.table[Fixture.id(failed)]?.member.status }

    @Test func anOperatorsOrderMakesTheFailedMemberLeftOnEveryMember() throws {
        var net = Self.swarm()
        // Node 3 misses the order (its copies are lost on the way).
        net.filter = { _, to, packet in
            guard to == 3 else { return packet }
            var p = packet
            p.updates.removeAll { u in if case .query(let q) = u { ColonyQuery(q) == .forceLeave } else { false } }
            return p
        }
        let request = try Self.forceLeave(&net, from: 1, order: Self.signed(Self.order())).get()
        #expect(request.nodes == 4, "live members other than the target")
        for i in 0..<3 { #expect(Self.status(net, i) == .left, "node \(i)") }
        #expect(Self.status(net, 3) == .dead)
        let summary = Self.tally(net, at: 1, request)
        #expect(summary.responses == 3)
        #expect(summary.outcomes == ["left": 3])
        #expect(summary.errors.isEmpty)
        #expect(!summary.complete, "node 3 did not answer")
        // Not gossiped as the member's own leave, and table exchanges show the departure as the
        // death it replaced: node 3, which missed it, refuses nothing and blames nobody.
        net.filter = nil
        net.run(until: net.now + .seconds(90))
        #expect(Self.status(net, 3) == .dead)
        for i in 0..<3 { #expect(Self.status(net, i) == .left, "node \(i) after anti-entropy") }
        for i in 0..<4 {
            #expect(net.cores[i]!.stats.trust.signaturesRejected == 0, "node \(i)")
            #expect(net.cores[i]!.stats.trust.ordersRefused == 0, "node \(i)")
        }
        #expect(net.cores[3]!.stats.dissemination.syncsStarted > 0, "anti-entropy ran")
    }

    @Test func pruneRemovesTheRecordEverywhere() throws {
        var net = Self.swarm()
        let request = try Self.forceLeave(&net, from: 0, prune: true, order: Self.signed(Self.order(prune: true))).get()
        for i in 0..<4 {
            #expect(net.cores[i]!.table[Fixture.id(Self.failed)] == nil, "node \(i) still holds it")
            #expect(net.events(at: i).contains(.memberReclaimed(Fixture.id(Self.failed))), "node \(i)")
        }
        #expect(Self.tally(net, at: 0, request).outcomes == ["pruned": 4])
        #expect(Self.tally(net, at: 0, request).complete)
        // The order signed without prune does not prune.
        var other = Self.swarm()
        let unpruned = Self.signed(Self.order(prune: false))
        #expect(throws: ForceLeaveError.order(.notAnOperator)) {
            try Self.forceLeave(&other, from: 0, prune: true, order: unpruned).get()
        }
        #expect(Self.status(other, 2) == .dead)
    }

    @Test func aMembersOwnOrderIsRefusedWhereOperatorsAreRequired() {
        var net = Self.swarm()
        #expect(throws: ForceLeaveError.order(.operatorRequired)) {
            try Self.forceLeave(&net, from: 0, order: nil).get()
        }
        // Signed by a member's key, or by the operator for another incarnation: not this order.
        #expect(throws: ForceLeaveError.order(.notAnOperator)) {
            try Self.forceLeave(&net, from: 0, order: Self.signed(Self.order(), by: Fixture.id(0))).get()
        }
        #expect(throws: ForceLeaveError.order(.notAnOperator)) {
            try Self.forceLeave(&net, from: 0, order: Self.signed(Self.order(incarnation: 2))).get()
        }
        #expect(net.cores[0]!.stats.trust.ordersRefused == 3)
        // A member that skips its own checks and sends its own order: every member refuses it.
        let memberOrder = Self.signed(Self.order(), by: Fixture.id(2))
        let f = ForceLeave(
            id: Fixture.id(Self.failed), incarnation: 1, prune: false, issuedAtMs: Self.wall,
            signature: memberOrder.signature)
        let q = Self.rawQuery(&net, from: 2, f)
        #expect(q != nil)
        for i in 0..<4 {
            #expect(Self.status(net, i) == .dead, "node \(i) obeyed a member's order")
            #expect(net.cores[i]!.stats.trust.ordersRefused >= 1, "node \(i) did not count the refusal")
        }
        let refusals = net.events(at: 2).compactMap { e -> String? in
            guard case .queryResponse(let r) = e, r.query == q?.id else { return nil }
            return String(decoding: r.payload, as: UTF8.self)
        }
        #expect(refusals.count == 4)
        #expect(refusals.allSatisfy { $0.hasPrefix("refused:") }, "\(refusals)")
    }

    @Test func staleAndReplayedOrdersAreRefused() throws {
        var net = Self.swarm()
        let old = Self.order(at: Self.wall - OperatorOrder.freshnessMs - 1)
        #expect(throws: ForceLeaveError.order(.stale)) {
            try Self.forceLeave(&net, from: 0, order: Self.signed(old)).get()
        }
        // Sent raw, the stale order is refused by every member.
        let staleSig = Self.signed(old).signature
        _ = Self.rawQuery(
            &net, from: 1,
            ForceLeave(
                id: Fixture.id(Self.failed), incarnation: 1, prune: false, issuedAtMs: old.issuedAtMs!,
                signature: staleSig))
        for i in 0..<4 { #expect(Self.status(net, i) == .dead, "node \(i) obeyed a stale order") }
        // A fresh order, carried out; the same order replayed (with prune it would differ)
        // later in a new query is refused everywhere.
        let fresh = Self.signed(Self.order())
        _ = try Self.forceLeave(&net, from: 0, order: fresh).get()
        for i in 0..<4 { #expect(Self.status(net, i) == .left) }
        let before = (0..<4).map { net.cores[$0]!.stats.trust.ordersRefused }
        let replayed = Self.rawQuery(
            &net, from: 3,
            ForceLeave(
                id: Fixture.id(Self.failed), incarnation: 1, prune: false, issuedAtMs: Self.wall,
                signature: fresh.signature))
        let answers = net.events(at: 3).compactMap { e -> String? in
            guard case .queryResponse(let r) = e, r.query == replayed?.id else { return nil }
            return String(decoding: r.payload, as: UTF8.self)
        }
        #expect(answers.count == 4)
        #expect(answers.allSatisfy { $0 == "refused: \(OrderRefusal.replayed)" }, "\(answers)")
        for i in 0..<4 { #expect(net.cores[i]!.stats.trust.ordersRefused == before[i] + 1) }
    }

    @Test func anAliveMemberIsNotRemovedForGood() throws {
        // Everyone alive; node 0 alone suspects node 3.
        var s = Settings.lan
        s.trust.operatorKeys = [OperatorOrderTests.operatorKey]
        var net = Net([:])
        for i in 0..<4 {
            var c = NodeCore(
                me: Fixture.member(i), settings: s, seed: UInt64(i + 1), now: .zero,
                knownMembers: Fixture.table([0, 1, 2, 3]))
            c.authenticate(with: TT.auth(i))
            let effects = c.start(now: .zero)
            c.anchorWallClock(ms: Self.wall, now: .zero)
            net.cores[i] = c
            net.absorb(effects, from: i)
        }
        net.settle()
        let id3 = Fixture.id(3)
        // Nobody else hears the suspicion (node 3 would refute it on its own).
        net.filter = { _, _, packet in
            var p = packet
            p.updates.removeAll { u in if case .suspect(id3, _, _) = u { true } else { false } }
            return p
        }
        _ = net.cores[0]!.receive(
            TT.gossip(from: 1, [.suspect(id: id3, incarnation: 1, from: Fixture.id(1))]), from: Fixture.address(1),
            now: net.now)
        #expect(net.cores[0]!.table[id3]?.member.status == .suspect)
        // Where it is alive the API refuses at once.
        let order = OperatorOrder.forceLeave(id: id3, incarnation: 1, prune: false, issuedAtMs: Self.wall)
        let (refused, _) = net.cores[1]!.forceLeave(id3, order: Self.signed(order), now: net.now)
        #expect(throws: ForceLeaveError.alive("n3")) { try refused.get() }
        // Node 0 (which holds it suspect) sends it: node 0 makes it left, nodes 1 and 2 keep it
        // alive, and node 3 itself refutes with a higher incarnation, which wins everywhere.
        let (result, effects) = net.cores[0]!.forceLeave(id3, order: Self.signed(order), now: net.now)
        net.absorb(effects, from: 0)
        let request = try result.get()
        #expect(net.cores[0]!.table[id3]?.member.status == .left)
        Self.spread(&net)
        let summary = Self.tally(net, at: 0, request)
        #expect(summary.outcomes["alive"] == 3, "\(summary)")
        #expect(summary.responses == 3 && summary.complete, "nodes 0, 1 and 2 are the answers waited for: \(summary)")
        #expect(summary.outcomes["left"] == 1, "node 0 held it suspect: \(summary)")
        for i in 0..<4 {
            let m = try #require(net.cores[i]!.table[id3]?.member)
            #expect(m.status == .alive, "node \(i) holds \(m)")
            #expect(m.incarnation >= 2, "node \(i) holds \(m)")
        }
    }

    @Test func anOpenSwarmObeysAMembersOrder() throws {
        var net = Self.swarm(operators: false)
        // No order needed (and none checked): the query's signature is the member's.
        let request = try Self.forceLeave(&net, from: 2, order: nil).get()
        for i in 0..<4 { #expect(Self.status(net, i) == .left, "node \(i)") }
        #expect(Self.tally(net, at: 2, request).outcomes == ["left": 4])
        #expect(throws: ForceLeaveError.unknownMember(Fixture.id(9).description)) {
            try net.cores[0]!.forceLeave(Fixture.id(9), now: net.now).0.get()
        }
        #expect(throws: ForceLeaveError.isSelf) { try net.cores[0]!.forceLeave(Fixture.id(0), now: net.now).0.get() }
        #expect(net.cores[0]!.forceLeaveTarget("n4") == Fixture.id(Self.failed))
        #expect(net.cores[0]!.forceLeaveTarget(Fixture.id(Self.failed).description) == Fixture.id(Self.failed))
        #expect(net.cores[0]!.forceLeaveTarget("nobody") == nil)
    }

    @Test func thePayloadDecodesTotally() throws {
        let f = ForceLeave(
            id: Fixture.id(4), incarnation: 1 << 40, prune: true, issuedAtMs: Self.wall,
            signature: Signature(publicKey: Array(repeating: 7, count: 32), bytes: Array(repeating: 9, count: 64)))
        #expect(try ForceLeave(decoding: f.encoded) == f)
        let bytes = f.encoded
        // Every truncation, trailing garbage, a bad flag and a bad format throw; none traps.
        for n in 0..<bytes.count { #expect(throws: WireError.self) { try ForceLeave(decoding: Array(bytes[..<n])) } }
        #expect(throws: WireError.self) { try ForceLeave(decoding: bytes + [0]) }
        var badFlag = bytes
        badFlag[1 + 16 + 6] = 2 // the prune flag, after the format, the id and the 6-byte varint
        #expect(throws: WireError.self) { try ForceLeave(decoding: badFlag) }
        #expect(throws: WireError.self) { try ForceLeave(decoding: [2] + bytes.dropFirst()) }
        var rng = Xoshiro256(seed: 42)
        for _ in 0..<2000 {
            let junk = (0..<Int(rng.below(140))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? ForceLeave(decoding: junk)
        }
        // Answers: what the summary counts, and anything else is an error, not a trap.
        var summary = ForceLeaveSummary(f, name: "n4", nodes: 2)
        let q = Dot(origin: Fixture.id(0), counter: 1)
        let first = summary.record(
            QueryResponse(query: q, from: Fixture.id(1), name: "n1", payload: Array("left".utf8)))
        let second = summary.record(QueryResponse(query: q, from: Fixture.id(2), name: "n2", payload: [0xFF, 0xFE]))
        #expect(!first, "one of two answered")
        #expect(second, "both answered")
        #expect(summary.outcomes == ["left": 1])
        #expect(summary.errors == ["n2": "unreadable answer"])
        #expect(!summary.complete)
        // The target's own answer (it refuted) is an outcome, not one of the answers waited for.
        var mine = ForceLeaveSummary(f, name: "n4", nodes: 1)
        let fromTarget = mine.record(
            QueryResponse(query: q, from: Fixture.id(4), name: "n4", payload: Array("alive".utf8)))
        #expect(!fromTarget)
        #expect(mine.responses == 0)
        #expect(mine.outcomes == ["alive": 1])
    }
}
