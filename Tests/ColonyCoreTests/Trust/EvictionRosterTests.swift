import Testing

@testable import ColonyCore

/// An eviction must come from the accused's current queen, per the signed roster of its cell
/// (issue 18: no one evicts alone). Whoever holds that roster checks it: the accused's
/// cellmates refuse another cell's queen evicting one of theirs; everyone else checks the
/// accused's own signed pledge to the issuer. Its evidence is a majority of the accused's
/// cell. A queen may be evicted by another cell's queen (she has no queen above her), which
/// every member can check.
@Suite(.tags(.node, .hostile)) struct EvictionRosterTests {
    /// Twenty authenticated members in cells of at most eight, settled.
    static func twoCells() throws -> Net {
        var s = Net.hiveSettings()
        s.hive.cellHighWater = 8
        var net = Net.hive(20, settings: s, authenticate: true)
        for _ in 0..<100 {
            net.run(for: 100)
            if net.queens().count >= 2 && net.formed() { break }
        }
        try #require(net.queens().count >= 2 && net.formed())
        return net
    }

    /// The two queens with the largest cells, largest first.
    static func twoLargest(_ net: Net) -> (Int, Int) {
        let q = net.queens().sorted { net.cores[$0]!.hive.roster!.count > net.cores[$1]!.hive.roster!.count }
        return (q[0], q[1])
    }

    /// The two largest cells' queens and their workers (at least `n` each).
    static func twoQueensWithWorkers(_ net: Net, atLeast n: Int) throws -> (Int, Int, [Int], [Int]) {
        let (a, b) = twoLargest(net)
        let (aWorkers, bWorkers) = (workers(of: a, net), workers(of: b, net))
        try #require(aWorkers.count >= n && bWorkers.count >= n)
        return (a, b, aWorkers, bWorkers)
    }

    /// Cell `queen`'s workers, by index.
    static func workers(of queen: Int, _ net: Net) -> [Int] {
        net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.filter { $0 != queen }
    }

    /// `issuer`'s signed eviction of `target`, naming `issuer`'s cell, justified by `accusers`
    /// whose penalties reach the threshold, for a cell of `cellmates` besides the target, with
    /// the target's pledge to `issuer` when `pledged` (or its claim, `claim`, if a queen).
    static func eviction(
        of target: Int, by issuer: Int, accusers: [Int], cellmates: Int, pledged: Bool, claim: QueenClaim? = nil,
        _ net: Net
    ) -> Eviction {
        let cell = net.cores[issuer]!.hive.cell!
        let term = net.cores[issuer]!.hive.term
        let at = net.cores[issuer]!.wallMs
        let pledge =
            pledged
            ? EvictionTests.pledge(of: target, to: Fixture.id(issuer), cell: cell, term: term, atMs: at, net) : nil
        return Eviction(
            id: Fixture.id(target), issuer: Fixture.id(issuer), cell: cell, term: term, atMs: at,
            expiresMs: at + 600_000,
            accusations: accusers.map { EvictionTests.accusation(of: target, by: $0, penalty: 200, atMs: at) },
            cellmates: UInt64(cellmates), pledge: pledge, accusedClaim: claim)
    }

    /// Whether `receiver` counted `e` invalid (refused before any view of its own is asked).
    static func invalid(_ e: Eviction, to receiver: Int, counter: UInt64, _ net: inout Net) -> Bool {
        let before = net.cores[receiver]!.stats.state.recordsInvalid
        #expect(deliver(e, to: receiver, counter: counter, &net) == nil)
        return net.cores[receiver]!.stats.state.recordsInvalid > before
    }

    /// Deliver `e` (its issuer's record) to `receiver`; the refusal reason counted, if any.
    static func deliver(_ e: Eviction, to receiver: Int, counter: UInt64, _ net: inout Net) -> String? {
        let issuer = Int(e.issuer.high)
        let before = net.cores[receiver]!.stats.trust.evictionsRefused
        _ = net.cores[receiver]!.receive(
            Fixture.packet(from: issuer, .gossip, [.record(EvictionTests.record(e, origin: issuer, counter: counter))]),
            from: Fixture.address(issuer), now: net.now)
        let after = net.cores[receiver]!.stats.trust.evictionsRefused
        return after.keys.sorted().first { after[$0, default: 0] > before[$0, default: 0] }
    }

    @Test func onlyTheAccusedsQueenEvictsAWorkerAndEveryMemberCanCheckIt() throws {
        var net = try Self.twoCells()
        let (a, b, aWorkers, bWorkers) = try Self.twoQueensWithWorkers(net, atLeast: 3)
        let target = aWorkers[0]
        let quorum = EvictionTests.quorum(against: target, net)
        let mates = net.cores[a]!.hive.roster!.count - 1

        // With a pledge the target made to another cell's queen (it served her a moment ago,
        // say), A's members refuse her eviction of it: they hold the roster it is in now.
        let foreign = Self.eviction(of: target, by: b, accusers: quorum, cellmates: mates, pledged: true, net)
        #expect(Self.deliver(foreign, to: aWorkers[2], counter: 1_001, &net) == "not_accused_queen")
        #expect(!net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(net.cores[aWorkers[2]]!.score(of: Fixture.id(b)) >= 0, "refused without blame: views may differ")
        // Without a pledge of the target to show, every member refuses it, whether it holds
        // A's roster or not: the record proves nothing.
        let unpledged = Self.eviction(of: target, by: b, accusers: quorum, cellmates: mates, pledged: false, net)
        #expect(Self.invalid(unpledged, to: aWorkers[2], counter: 1_002, &net))
        #expect(Self.invalid(unpledged, to: bWorkers[2], counter: 1_002, &net))
        #expect(!net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(!net.cores[bWorkers[2]]!.isExcluded(Fixture.id(target)))

        // The target's own queen may, with its pledge to her: members of both cells obey.
        let own = Self.eviction(of: target, by: a, accusers: quorum, cellmates: mates, pledged: true, net)
        #expect(Self.deliver(own, to: aWorkers[2], counter: 2_001, &net) == nil)
        #expect(Self.deliver(own, to: bWorkers[2], counter: 2_001, &net) == nil)
        #expect(net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(net.cores[bWorkers[2]]!.isExcluded(Fixture.id(target)))
    }

    @Test func aQueenIsEvictedByAnotherCellsQueenWithHerOwnClaim() throws {
        var net = try Self.twoCells()
        let (a, b, aWorkers, bWorkers) = try Self.twoQueensWithWorkers(net, atLeast: 2)
        let claim = try #require(net.cores[b]!.hive.cells[net.cores[a]!.hive.cell!])
        let mates = Int(claim.size) - 1
        let others = net.cores.keys.sorted().filter { $0 != a && $0 != b }
        let needed = Eviction.requiredAccusers(cellmates: UInt64(mates), anywhere: true)
        try #require(needed == mates + 1 && others.count >= needed)
        // Without her claim, or with fewer accusers than her cell counts (a majority of it is
        // not enough: none of them is known to be her worker), the record is invalid (and its
        // relay blamed: bWorkers[0] judges these, bWorkers[1] the valid one).
        let noClaim = Self.eviction(
            of: a, by: b, accusers: Array(others.prefix(needed)), cellmates: mates, pledged: false, net)
        #expect(Self.invalid(noClaim, to: bWorkers[0], counter: 3_001, &net))
        let few = Self.eviction(
            of: a, by: b, accusers: Array(others.prefix(needed - 1)), cellmates: mates, pledged: false, claim: claim,
            net)
        #expect(Self.invalid(few, to: bWorkers[0], counter: 3_002, &net))
        let e = Self.eviction(
            of: a, by: b, accusers: Array(others.prefix(needed)), cellmates: mates, pledged: false, claim: claim, net)
        // A member that no longer knows her as a queen (it hears the record late, after her
        // cell elected another) checks it all the same.
        net.cores[bWorkers[1]]!.hive.cells[claim.cell] = nil
        #expect(Self.deliver(e, to: aWorkers[1], counter: 3_003, &net) == nil)
        #expect(Self.deliver(e, to: bWorkers[1], counter: 3_003, &net) == nil)
        #expect(net.cores[aWorkers[1]]!.isExcluded(Fixture.id(a)))
        #expect(net.cores[bWorkers[1]]!.isExcluded(Fixture.id(a)))
    }

    /// Members who collude from outside a cell cannot get one of its members evicted, however
    /// grave their accusations, unless they outnumber the whole cell; a majority of its own
    /// cell can, and its own queen evicts it.
    @Test func collusionFromOutsideTheCellEvictsNobody() throws {
        var net = try Self.twoCells()
        let (a, b) = Self.twoLargest(net)
        let target = try #require(Self.workers(of: a, net).first)
        // Fewer than cell A counts (as many as it would take), more than a majority of it.
        let aSize = net.cores[a]!.hive.roster!.count
        let outsiders = Array((Self.workers(of: b, net) + [b]).prefix(aSize - 1))
        try #require(outsiders.count >= Eviction.requiredAccusers(cellmates: UInt64(aSize - 1)))
        for i in outsiders { net.offend(i, by: target, times: 10) }
        // And queen A herself, framed the same way.
        for i in outsiders { net.offend(i, by: a, times: 10) }
        net.runDurably(for: 3_000)
        for i in net.cores.keys.sorted() {
            #expect(!net.cores[i]!.isExcluded(Fixture.id(target)), "node \(i) refuses the target")
            #expect(!net.cores[i]!.isExcluded(Fixture.id(a)), "node \(i) refuses queen A")
            #expect(net.cores[i]!.stats.trust.evictionsIssued == 0)
        }
        // Its own cell's majority: queen A evicts it, carrying its pledge.
        for i in EvictionTests.quorum(against: target, net) { net.offend(i, by: target, times: 3) }
        net.runDurably(for: 1_000)
        let issued = try #require(net.cores[b]!.evictionsInForce.first { $0.id == Fixture.id(target) })
        #expect(issued.issuer == Fixture.id(a))
        #expect(issued.pledge != nil)
        #expect(net.cores[b]!.stats.trust.evictionsIssued == 0)
        #expect(net.violations.isEmpty, "\(net.violations)")
    }
}
