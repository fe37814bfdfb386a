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
    /// the target's pledge to `issuer` when `pledged`.
    static func eviction(
        of target: Int, by issuer: Int, accusers: [Int], cellmates: Int, pledged: Bool, _ net: Net
    ) -> Eviction {
        let cell = net.cores[issuer]!.hive.cell!
        let term = net.cores[issuer]!.hive.term
        let at = net.cores[issuer]!.wallMs
        return Eviction(
            id: Fixture.id(target), issuer: Fixture.id(issuer), cell: cell, term: term, atMs: at,
            expiresMs: at + 600_000,
            accusations: accusers.map { EvictionTests.accusation(of: target, by: $0, penalty: 200, atMs: at) },
            cellmates: UInt64(cellmates),
            pledge: pledged
                ? EvictionTests.pledge(of: target, to: Fixture.id(issuer), cell: cell, term: term, net) : nil)
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

        // Another cell's queen evicting one of cell A's: A's members hold the roster and
        // refuse; B's cannot see A's roster, but she has no pledge of the target to show.
        let foreign = Self.eviction(of: target, by: b, accusers: quorum, cellmates: mates, pledged: false, net)
        #expect(Self.deliver(foreign, to: aWorkers[2], counter: 1_001, &net) == "not_accused_queen")
        #expect(Self.deliver(foreign, to: bWorkers[2], counter: 1_001, &net) == "no_pledge")
        #expect(!net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(!net.cores[bWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(net.cores[aWorkers[2]]!.score(of: Fixture.id(b)) >= 0, "refused without blame: views may differ")

        // The target's own queen may, with its pledge to her: members of both cells obey.
        let own = Self.eviction(of: target, by: a, accusers: quorum, cellmates: mates, pledged: true, net)
        #expect(Self.deliver(own, to: aWorkers[2], counter: 2_001, &net) == nil)
        #expect(Self.deliver(own, to: bWorkers[2], counter: 2_001, &net) == nil)
        #expect(net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(net.cores[bWorkers[2]]!.isExcluded(Fixture.id(target)))
    }

    @Test func aQueenIsEvictedByAnotherCellsQueen() throws {
        var net = try Self.twoCells()
        let (a, b, aWorkers, bWorkers) = try Self.twoQueensWithWorkers(net, atLeast: 2)
        let size = Int(try #require(net.cores[b]!.hive.cells[net.cores[a]!.hive.cell!]).size)
        let accusers = net.cores.keys.sorted().filter { $0 != a && $0 != b }.prefix(
            Eviction.requiredAccusers(cellmates: UInt64(size - 1)))
        let e = Self.eviction(of: a, by: b, accusers: Array(accusers), cellmates: size - 1, pledged: false, net)
        #expect(Self.deliver(e, to: aWorkers[1], counter: 3_001, &net) == nil)
        #expect(Self.deliver(e, to: bWorkers[1], counter: 3_001, &net) == nil)
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
        net.runDurably(for: 3_000)
        for i in net.cores.keys.sorted() {
            #expect(!net.cores[i]!.isExcluded(Fixture.id(target)), "node \(i) refuses the target")
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
