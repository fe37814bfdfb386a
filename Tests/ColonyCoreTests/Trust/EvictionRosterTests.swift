import Testing

@testable import ColonyCore

/// An eviction must come from the accused's current queen, per the signed roster of its cell
/// (issue 18: no one evicts alone). Whoever holds that roster checks it: the accused's
/// cellmates refuse another cell's queen evicting one of theirs. A queen may be evicted by
/// another cell's queen (she has no queen above her), which every member can check.
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

    /// `issuer`'s signed eviction of `target`, naming `issuer`'s cell, justified by two
    /// accusers whose penalties reach the threshold.
    static func eviction(of target: Int, by issuer: Int, accusers: [Int], _ net: Net) -> Eviction {
        let cell = net.cores[issuer]!.hive.cell!
        let at = net.cores[issuer]!.wallMs
        return Eviction(
            id: Fixture.id(target), issuer: Fixture.id(issuer), cell: cell, term: net.cores[issuer]!.hive.term,
            atMs: at, expiresMs: at + 600_000,
            accusations: accusers.map { EvictionTests.accusation(of: target, by: $0, penalty: 200, atMs: at) })
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

    @Test func onlyTheAccusedsQueenEvictsAWorkerWhereHerRosterIsKnown() throws {
        var net = try Self.twoCells()
        let (a, b, aWorkers, bWorkers) = try Self.twoQueensWithWorkers(net, atLeast: 3)
        let target = aWorkers[0]
        let accusers = [aWorkers[1], bWorkers[1]]

        // Another cell's queen evicting one of cell A's: A's members hold the roster and refuse.
        let foreign = Self.eviction(of: target, by: b, accusers: accusers, net)
        #expect(Self.deliver(foreign, to: aWorkers[2], counter: 1_001, &net) == "not_accused_queen")
        #expect(!net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(net.cores[aWorkers[2]]!.score(of: Fixture.id(b)) >= 0, "refused without blame: views may differ")

        // The target's own queen may: members of both cells obey.
        let own = Self.eviction(of: target, by: a, accusers: accusers, net)
        #expect(Self.deliver(own, to: aWorkers[2], counter: 2_001, &net) == nil)
        #expect(Self.deliver(own, to: bWorkers[2], counter: 2_001, &net) == nil)
        #expect(net.cores[aWorkers[2]]!.isExcluded(Fixture.id(target)))
        #expect(net.cores[bWorkers[2]]!.isExcluded(Fixture.id(target)))
    }

    @Test func aQueenIsEvictedByAnotherCellsQueen() throws {
        var net = try Self.twoCells()
        let (a, b, aWorkers, bWorkers) = try Self.twoQueensWithWorkers(net, atLeast: 2)
        let e = Self.eviction(of: a, by: b, accusers: [aWorkers[0], bWorkers[0]], net)
        #expect(Self.deliver(e, to: aWorkers[1], counter: 3_001, &net) == nil)
        #expect(Self.deliver(e, to: bWorkers[1], counter: 3_001, &net) == nil)
        #expect(net.cores[aWorkers[1]]!.isExcluded(Fixture.id(a)))
        #expect(net.cores[bWorkers[1]]!.isExcluded(Fixture.id(a)))
    }

    @Test func aQueenIssuesOnlyForHerOwnWorkers() throws {
        var net = try Self.twoCells()
        let (a, b) = Self.twoLargest(net)
        let target = try #require(Self.workers(of: a, net).first)
        // Queen B alone hears grave accusations of A's worker: she pools and passes them on,
        // and the eviction that follows is queen A's.
        let accusers = net.cores.keys.sorted().filter { $0 != target && $0 != a && $0 != b }.prefix(2)
        for i in accusers { net.offend(i, by: target, times: 3) }
        net.runDurably(for: 1_000)
        let issued = try #require(net.cores[b]!.evictionsInForce.first { $0.id == Fixture.id(target) })
        #expect(issued.issuer == Fixture.id(a))
        #expect(net.cores[b]!.stats.trust.evictionsIssued == 0)
        #expect(net.violations.isEmpty, "\(net.violations)")
    }
}
