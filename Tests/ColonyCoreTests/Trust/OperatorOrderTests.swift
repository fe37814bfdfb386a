import Testing

@testable import ColonyCore

/// Issue 18: deposing, lifting and keyring changes are an operator's orders, never a member's,
/// once operator keys are configured.
@Suite("Operator orders")
struct OperatorOrderTests {
    /// The operator: an identity outside the swarm whose key the members are configured with.
    static let operatorID = NodeID(high: 0x0BE7, low: 0x0BE7)
    static var operatorKey: [UInt8] { TestAuthenticator.publicKey(for: operatorID) }

    static func order(_ o: OperatorOrder, by id: NodeID = operatorID) -> Signature {
        Signature(publicKey: TestAuthenticator.publicKey(for: id), bytes: TestAuthenticator(id).sign(o.claim))
    }

    /// A member's own signature of `claim`.
    static func signed(_ claim: [UInt8], by i: Int) -> Signature {
        Signature(publicKey: TT.auth(i).publicKey, bytes: TT.auth(i).sign(claim))
    }

    static func settings(ttl: Duration = .seconds(3600)) -> Settings {
        var s = Net.hiveSettings()
        s.hive.evictionTTL = ttl
        s.trust.operatorKeys = [operatorKey]
        return s
    }

    @Test func aQueenObeysOnlyAnOperatorsDeposal() throws {
        var net = Net.hive(7, settings: Self.settings(), authenticate: true)
        let formed = net.runUntilFormed()
        try #require(formed)
        let queen = net.queens().max { net.cores[$0]!.hive.roster!.count < net.cores[$1]!.hive.roster!.count }!
        let cell = net.cores[queen]!.hive.cell!
        let term = net.cores[queen]!.hive.term
        let worker = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.first { $0 != queen }!
        // A member's own signed deposal, as an open swarm takes it: refused here.
        let memberSig = Self.signed(SignedClaim.depose(cell: cell, term: term, by: Fixture.id(worker)), by: worker)
        _ = net.cores[queen]!.receive(
            Fixture.packet(from: worker, .hive(.depose(cell: cell, term: term, signature: memberSig))),
            from: Fixture.address(worker), now: net.now)
        #expect(net.cores[queen]!.hive.role == .queen)
        #expect(net.cores[queen]!.stats.trust.ordersRefused == 1)
        // The local API refuses without an order, with one for another term, or by a
        // non-operator's key signing the very order.
        #expect(throws: DeposeError.order(.operatorRequired)) {
            try net.cores[worker]!.depose(cell: cell, now: net.now).0.get()
        }
        #expect(throws: DeposeError.order(.notAnOperator)) {
            try net.cores[worker]!.depose(
                cell: cell, order: Self.order(.depose(cell: cell, term: term + 1)), now: net.now
            ).0.get()
        }
        #expect(throws: DeposeError.order(.notAnOperator)) {
            try net.cores[worker]!.depose(
                cell: cell, order: Self.order(.depose(cell: cell, term: term), by: Fixture.id(worker)), now: net.now
            ).0.get()
        }
        #expect(net.cores[queen]!.hive.role == .queen)
        // The operator's order, relayed by any member, is obeyed.
        let (result, effects) = net.cores[worker]!.depose(
            cell: cell, order: Self.order(.depose(cell: cell, term: term)), now: net.now)
        net.absorb(effects, from: worker)
        #expect((try? result.get())?.queen == Fixture.id(queen))
        net.deliver()
        #expect(net.cores[queen]!.hive.role != .queen)
        #expect(net.violations.isEmpty, "\(net.violations)")
    }

    @Test func anEvictionIsLiftedOnlyByAnOperatorsOrderForIt() throws {
        var net = Net.hive(9, settings: Self.settings(), authenticate: true)
        let formed = net.runUntilFormed()
        try #require(formed)
        let offender = EvictionTests.worker(net)
        for a in EvictionTests.quorum(against: offender, net) { net.offend(a, by: offender, times: 3) }
        net.runDurably(for: 1_000)
        let issuer = try #require(net.cores.keys.sorted().first { net.cores[$0]!.stats.trust.evictionsIssued > 0 })
        let e = try #require(net.cores[issuer]!.evictions[Fixture.id(offender)]?[Fixture.id(issuer)])
        let asker = net.cores.keys.sorted().first { $0 != offender && $0 != issuer }!
        // A member's request: refused locally, and at the issuer when sent raw.
        #expect(throws: LiftError.order(.operatorRequired)) {
            try net.cores[asker]!.lift(Fixture.id(offender), now: net.now).0.get()
        }
        let memberSig = Self.signed(
            SignedClaim.liftRequest(evicted: Fixture.id(offender), by: Fixture.id(asker)), by: asker)
        _ = net.cores[issuer]!.receive(
            Fixture.packet(
                from: asker, .hive(.lift(cell: e.cell, evicted: Fixture.id(offender), signature: memberSig))),
            from: Fixture.address(asker), now: net.now)
        // An operator's order for another eviction of the same member (another time) does not lift this one.
        let stale = Self.order(.lift(evicted: Fixture.id(offender), issuer: Fixture.id(issuer), atMs: e.atMs &- 1))
        _ = net.cores[issuer]!.receive(
            Fixture.packet(from: asker, .hive(.lift(cell: e.cell, evicted: Fixture.id(offender), signature: stale))),
            from: Fixture.address(asker), now: net.now)
        net.runDurably(for: 500)
        #expect(net.cores[issuer]!.isExcluded(Fixture.id(offender)))
        #expect(net.cores[issuer]!.stats.trust.ordersRefused == 2)
        // The operator's order for this eviction, relayed by the asker: lifted everywhere.
        let order = Self.order(.lift(evicted: Fixture.id(offender), issuer: Fixture.id(issuer), atMs: e.atMs))
        let (result, effects) = net.cores[asker]!.lift(
            Fixture.id(offender), orders: [Fixture.id(issuer): order], now: net.now)
        net.absorb(effects, from: asker)
        #expect((try? result.get())?.map(\.issuer) == [Fixture.id(issuer)])
        net.runDurably(for: 3_000)
        for i in net.cores.keys.sorted() where i != offender {
            #expect(!net.cores[i]!.isExcluded(Fixture.id(offender)), "node \(i) still refuses the lifted member")
        }
    }

    @Test func keyringOrdersAreFreshAndCarriedOutOnce() {
        var core = TT.core(1, knows: [0, 1, 2])
        // Without operator keys nothing is an operator's order (members' rules apply).
        let op = KeyringOperation.mode(.require)
        #expect(core.check(op.order(issuedAtMs: 1), signature: nil) == .operatorRequired)
        #expect(!core.requiresOperator)
        var s = Settings.lan
        s.trust.operatorKeys = [Self.operatorKey]
        core = NodeCore(
            me: Fixture.member(1), settings: s, seed: 1, now: .zero, knownMembers: Fixture.table([0, 1, 2]))
        core.authenticate(with: TT.auth(1))
        _ = core.start(now: .zero)
        core.anchorWallClock(ms: 1_000_000_000, now: .zero)
        #expect(core.requiresOperator)
        let now: UInt64 = 1_000_000_000
        let fresh = op.order(issuedAtMs: now)
        #expect(core.admit(fresh, signature: nil) == .operatorRequired)
        #expect(core.admit(fresh, signature: Self.order(fresh, by: Fixture.id(2))) == .notAnOperator)
        // Signed for another operation: not this one's.
        #expect(
            core.admit(fresh, signature: Self.order(KeyringOperation.mode(.open).order(issuedAtMs: now)))
                == .notAnOperator)
        #expect(core.admit(fresh, signature: Self.order(fresh)) == nil)
        #expect(core.admit(fresh, signature: Self.order(fresh)) == .replayed, "carried out once")
        let old = op.order(issuedAtMs: now - OperatorOrder.freshnessMs - 1)
        #expect(core.admit(old, signature: Self.order(old)) == .stale)
        let future = op.order(issuedAtMs: now + OperatorOrder.freshnessMs + 1)
        #expect(core.admit(future, signature: Self.order(future)) == .stale)
        #expect(core.stats.trust.ordersRefused == 6)
    }

    @Test func anAuthorityIsAnOperator() {
        var s = Settings.lan
        s.trust.authorityKey = Self.operatorKey
        var core = NodeCore(me: Fixture.member(1), settings: s, seed: 1, now: .zero)
        core.authenticate(with: TT.auth(1))
        #expect(core.requiresOperator)
        let o = OperatorOrder.depose(cell: CellID(5), term: 3)
        #expect(core.check(o, signature: Self.order(o)) == nil)
    }
}
