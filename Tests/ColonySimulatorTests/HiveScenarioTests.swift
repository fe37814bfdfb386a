import ColonyCore
import ColonySimulator
import Testing

/// The hive scenarios (issue #6): cells form, broadcasts go through queens, queens are lost
/// and replaced. The simulator checks on every step that no cell has two queens in a term
/// and no two lease holders at once.
@Suite(.tags(.simulation)) struct HiveScenarioTests {
    func options(_ kind: ScenarioKind, nodes: Int, seed: UInt64) -> SimulationOptions {
        SimulationOptions(scenario: kind, nodes: nodes, seed: seed, profile: "lan")
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func broadcastsThroughQueensReachEveryoneAboutOnce(seed: UInt64) throws {
        var o = options(.hive, nodes: 150, seed: seed)
        o.hive.broadcasts = 100
        let r = try checkedRun(o)
        let reproduce = o.reproduceCommand
        #expect(r.hive.deliveryRatio == 1, "\(reproduce)")
        #expect((r.hive.rmr ?? 99) <= 0.1, "relative message redundancy \(r.hive.rmr ?? -1) — \(reproduce)")
        #expect((r.hive.ldh ?? 99) <= 4, "worker → queen → queen → worker — \(reproduce)")
        #expect(r.safetyViolations == 0, "\(reproduce)")
        #expect((r.hive.cells ?? 0) >= 2, "\(reproduce)")
        let json = try r.parsedJSON()
        #expect(json["rmr"]?.isNumber == true && json["deliveryRatio"] == .number(1))
        #expect(json["safetyViolations"] == .number(0))
    }

    /// The same workload over plain gossip costs an order of magnitude more payloads: the
    /// tree, not the workload, makes the redundancy low. (Guards against measuring nothing.)
    @Test func plainGossipIsFarMoreRedundant() throws {
        var o = options(.hive, nodes: 150, seed: 1)
        o.hive.broadcasts = 100
        o.hive.formCells = false
        let r = try checkedRun(o)
        #expect(r.hive.deliveryRatio == 1)
        #expect((r.hive.rmr ?? 0) > 3, "plain gossip rmr \(r.hive.rmr ?? -1)")
        #expect(r.hive.cells == nil)
    }

    @Test(arguments: [UInt64(1), 2])
    func queensAreReplacedFastAndNothingIsLostWhenAFifthDies(seed: UInt64) throws {
        var o = options(.queenLoss, nodes: 120, seed: seed)
        o.queenLoss.rounds = 8
        o.hive.broadcasts = 100
        let r = try checkedRun(o)
        let reproduce = o.reproduceCommand
        let failover = try #require(r.queenLoss.failover, "\(reproduce)")
        #expect(failover.count == 8)
        #expect(failover.p50 <= 300 && failover.max <= 600, "failover \(failover) — \(reproduce)")
        #expect(r.hive.deliveryRatio == 1, "\(reproduce)")
        #expect(r.safetyViolations == 0, "\(reproduce)")
        #expect(try r.parsedJSON()["failoverMs"]?["p50"]?.isNumber == true)
    }

    /// Issue 18's byzantine scenario: 10 % of a signed hive hold valid keys and attack (floods,
    /// forged records, and hostile packets of every kind) while honest members broadcast.
    @Test(arguments: [UInt64(1), 3])
    func byzantineMembersCannotHurtTheHonest(seed: UInt64) throws {
        var o = options(.byzantine, nodes: 40, seed: seed)
        o.durationSeconds = 20
        o.hive.broadcasts = 100
        let r = try checkedRun(o)
        let reproduce = o.reproduceCommand
        #expect(r.failure == nil, "\(r.failure ?? "") — \(reproduce)")
        #expect(r.hive.deliveryRatio == 1, "\(reproduce)")
        #expect(r.hive.honestEvicted == 0, "\(reproduce)")
        #expect(r.evict.honestDead == 0, "\(reproduce)")
        #expect(r.evict.offenders == 4 && r.evict.offendersGraylisted == 4, "\(reproduce)")
        #expect((r.evict.hostilePackets ?? 0) >= 700, "the attack ran — \(reproduce)")
        #expect(r.safetyViolations == 0 && r.violations.isEmpty, "\(r.violations.prefix(3)) — \(reproduce)")
    }

    /// Flooders and forgers in a signed hive are accused by their victims. Forgers, whose
    /// forgeries reach a majority of their cell, are evicted by their queen and every honest
    /// member refuses them; flooders, which flood two members, are graylisted by both (two
    /// members' word evicts nobody). No honest member is evicted, one eviction is lifted and
    /// the other expires, and the offenders come back.
    @Test(arguments: [UInt64(1), 2])
    func offendersAreKeptOutAndComeBackWhenLiftedOrExpired(seed: UInt64) throws {
        var o = options(.evict, nodes: 60, seed: seed)
        o.evict.offenders = 4
        o.durationSeconds = 40
        o.evict.evictTTLSeconds = 50
        o.hive.broadcasts = 100
        let r = try checkedRun(o)
        let reproduce = o.reproduceCommand
        #expect(r.evict.offendersEvicted == 2, "the two forgers — \(r.failure ?? "") — \(reproduce)")
        #expect(r.evict.offendersGraylisted == 4, "\(r.failure ?? "") — \(reproduce)")
        #expect(r.hive.honestEvicted == 0, "\(reproduce)")
        #expect(r.evict.evictedInRoster == 0, "\(reproduce)")
        #expect(r.evict.liftTime?.count == 1, "\(reproduce)")
        #expect(r.evict.readmitTime?.count == 1, "\(reproduce)")
        #expect(r.hive.deliveryRatio == 1, "\(reproduce)")
        #expect(r.safetyViolations == 0, "\(reproduce)")
        let json = try r.parsedJSON()
        #expect(json["evictMs"]?["p50"]?.isNumber == true && json["honestEvicted"] == .number(0))
    }

    /// The hive doubles while broadcasts flow: full cells breed (each split done well inside
    /// two minimum election timeouts), nothing is lost, then a shrunken cell merges away.
    @Test(arguments: [UInt64(1), 2])
    func fullCellsSplitFastAndLoseNothingAndSmallOnesMerge(seed: UInt64) throws {
        var o = options(.split, nodes: 100, seed: seed)
        o.hive.broadcasts = 100
        let r = try checkedRun(o)
        let reproduce = o.reproduceCommand
        #expect((r.split.splits ?? 0) >= 1, "\(reproduce)")
        #expect(r.split.splitsIncomplete == 0, "\(reproduce)")
        let split = try #require(r.split.splitTime, "\(reproduce)")
        #expect(split.max <= 300, "split \(split) — \(reproduce)")
        #expect(r.hive.deliveryRatio == 1, "\(reproduce)")
        #expect(r.split.merges == 1, "\(reproduce)")
        #expect(r.safetyViolations == 0, "\(reproduce)")
        #expect(try r.parsedJSON()["splitMs"]?["p50"]?.isNumber == true)
    }

    /// Every node's clock runs at its own rate (here up to ±5%): leases are measured on the
    /// queen's clock and stickiness on each voter's, and the margin between them
    /// (`leaseFraction` 0.9) must still keep two lease holders apart.
    @Test func leasesHoldWithClocksDrifting() throws {
        var o = options(.queenLoss, nodes: 80, seed: 4)
        o.queenLoss.rounds = 6
        o.hive.broadcasts = 50
        o.clockDrift = 0.05
        #expect(o.reproduceCommand.hasSuffix("--drift 0.05"))
        let sim = Simulator(seed: 4, settings: .lan, network: .lan)
        sim.clockDrift = 0.05
        sim.addNodes(50)
        let rates = sim.nodes.map(\.clockRate)
        #expect(rates.allSatisfy { abs($0 - 1) <= 0.05 } && Set(rates).count > 40)
        let r = try checkedRun(o)
        #expect(r.safetyViolations == 0, "\(o.reproduceCommand)")
        #expect(r.queenLoss.failover?.count == 6, "\(o.reproduceCommand)")
        #expect(r.hive.deliveryRatio == 1, "\(o.reproduceCommand)")
    }

    /// Nearness: once coordinates settle, nine workers in ten are in a cell whose queen is
    /// at most 1.2× as far (true round trip) as the nearest queen with room. By coordinates
    /// alone these seeds ended at p90 1.22 (some pairs are misplaced badly); workers now
    /// time their candidates and explore.
    @Test(arguments: [UInt64(1), 3])
    func workersSettleWithANearQueen(seed: UInt64) throws {
        var o = options(.hive, nodes: 150, seed: seed)
        o.hive.broadcasts = 50
        o.durationSeconds = 90
        let r = try checkedRun(o)
        let ratio = try #require(r.hive.queenRTTRatio, "\(o.reproduceCommand)")
        #expect(ratio.count > 100, "\(o.reproduceCommand)")
        #expect(ratio.p90 <= 1.2, "queen RTT ÷ best \(ratio) — \(o.reproduceCommand)")
        #expect(r.hive.deliveryRatio == 1, "\(o.reproduceCommand)")
    }

    /// Queens cut off and paused, members paused, 5% loss, clocks drifting: never two queens
    /// in a term nor two lease holders; the hive forms again after. (The 1,000-seed sweep is
    /// in docs/benchmarks.md.)
    @Test(arguments: [UInt64(1), 2, 3])
    func safetyHoldsUnderPartitionsPausesAndLoss(seed: UInt64) throws {
        var o = options(.hiveSafety, nodes: 40, seed: seed)
        o.loss = 0.05
        o.durationSeconds = 20
        let r = try checkedRun(o)
        #expect(r.safetyViolations == 0, "\(o.reproduceCommand)")
        #expect((r.hiveSafety.faults ?? 0) >= 60, "\(o.reproduceCommand)")
    }

    /// Faults make honest members miss ping-reqs and get graylisted here and there; that
    /// must never add up to an eviction. (Seed 40 evicted an honest member when accusations
    /// counted unanswered requests.)
    @Test func faultsGetNoHonestMemberEvicted() throws {
        var o = options(.hiveSafety, nodes: 40, seed: 40)
        o.loss = 0.05
        let r = try checkedRun(o)
        #expect(r.hive.honestEvicted == 0, "\(o.reproduceCommand)")
    }

    /// The negative control: a lease longer than the voters' stickiness window is unsafe,
    /// and the same faults make the simulator's lease check catch it.
    @Test func theLeaseCheckCatchesAnUnsafeLease() throws {
        var o = options(.hiveSafety, nodes: 40, seed: 1)
        o.loss = 0.05
        o.durationSeconds = 20
        o.hive.leaseFraction = 1.5
        let r = try Simulation.run(o)
        #expect(r.safetyViolations > 0, "\(o.reproduceCommand)")
        #expect(r.violations.contains { $0.contains("two lease-holding queens") })
        #expect(!r.passed)
    }

    @Test func deterministic() throws {
        var o = options(.queenLoss, nodes: 60, seed: 7)
        o.queenLoss.rounds = 3
        o.hive.broadcasts = 20
        let a = try Simulation.run(o)
        let b = try Simulation.run(o)
        #expect(a.traceHash == b.traceHash)
        #expect(a.queenLoss.failover == b.queenLoss.failover)
    }
}
