import ColonyCore
import Testing

@testable import ColonySimulator

/// Run a scenario and expect it to hold its invariants and pass; a failure names the
/// command that replays it (the seed decides everything).
func checkedRun(_ o: SimulationOptions) throws -> SimulationResult {
    let r = try Simulation.run(o)
    #expect(r.violations.isEmpty, "invariants violated: \(r.violations.prefix(3)) — reproduce: \(o.reproduceCommand)")
    #expect(r.failure == nil, "\(r.failure ?? "") — reproduce: \(o.reproduceCommand)")
    #expect(r.passed, "reproduce: \(o.reproduceCommand)")
    return r
}

/// Each scenario at a small N with fixed seeds.
@Suite(.tags(.simulation)) struct ScenarioTests {
    func run(_ scenario: ScenarioKind, nodes: Int, seed: UInt64, loss: Double = 0, duration: Double? = nil) throws
        -> SimulationResult
    {
        var o = SimulationOptions(scenario: scenario, nodes: nodes, seed: seed, profile: "lan")
        o.loss = loss
        o.durationSeconds = duration
        return try checkedRun(o)
    }

    @Test(arguments: [UInt64(1), 2])
    func joinReachesEveryNodeQuickly(seed: UInt64) throws {
        let r = try run(.join, nodes: 100, seed: seed)
        let c = try #require(r.convergence)
        #expect(c.count == 100)
        #expect(c.max < 2_200, "every node sees the joiner within memberlist's modelled 2.2 s")
        #expect(r.bytesPerNodePerSecond ?? .infinity < 200)
    }

    @Test func joinUnderTenPercentLoss() throws {
        let r = try run(.join, nodes: 100, seed: 3, loss: 0.1)
        #expect(try #require(r.convergence).max < 2_800)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func crashIsDetectedEverywhereWithoutFalsePositives(seed: UInt64) throws {
        let r = try run(.crash, nodes: 100, seed: seed)
        let first = try #require(r.detectionFirstMs)
        let all = try #require(r.detectionAll)
        #expect(all.count == 99)
        #expect(first < all.p50)
        #expect(all.p50 <= 8_000)
        #expect(r.falsePositives == 0)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func aCrashedProcessIsDeclaredDeadAsSoonAsItsPortRefuses(seed: UInt64) throws {
        var o = SimulationOptions(scenario: .crash, nodes: 100, seed: seed, profile: "lan")
        o.crash.kind = .process
        let r = try Simulation.run(o)
        #expect(r.passed, "reproduce: \(o.reproduceCommand)")
        let all = try #require(r.detectionAll)
        #expect(all.max < 5_000, "a refused fallback stream is proof of death: no suspicion timeout")
        #expect(r.falsePositives == 0)
    }

    @Test(arguments: [UInt64(1), 2])
    func pausedNodesAreNotDeclaredDead(seed: UInt64) throws {
        let r = try run(.pause, nodes: 100, seed: seed)
        #expect(r.falsePositives == 0)
        #expect(r.detectionAll?.count == 99)
    }

    @Test func bootstrapThroughOneSeed() throws {
        let r = try run(.bootstrap, nodes: 200, seed: 1)
        #expect(try #require(r.convergence).max < 5_000)
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func partitionHealsByItself(seed: UInt64) throws {
        let r = try run(.partition, nodes: 40, seed: seed)
        #expect(r.healMs != nil)
    }

    @Test func steadyLoadIsSmallAndFlat() throws {
        let small = try run(.steady, nodes: 20, seed: 1, duration: 200)
        let large = try run(.steady, nodes: 200, seed: 1, duration: 200)
        let ratio = try #require(large.bytesPerNodePerSecond) / #require(small.bytesPerNodePerSecond)
        #expect(ratio < 1.5, "per-node load must not grow with N")
        #expect(small.falsePositives == 0 && large.falsePositives == 0)
    }
}

@Suite(.tags(.simulation)) struct SimulatorTests {
    /// A converged, running swarm of `n` nodes.
    func swarm(_ n: Int, seed: UInt64) -> Simulator {
        let sim = Simulator(seed: seed, settings: .lan, network: .lan)
        sim.addNodes(n)
        let t = sim.convergedTable(0..<n)
        for i in 0..<n { sim.start(i, known: t) }
        return sim
    }

    @Test func sameSeedReplaysTheSameRun() throws {
        let o = SimulationOptions(scenario: .pause, nodes: 60, seed: 0xC0FFEE, profile: "lan")
        let a = try Simulation.run(o)
        let b = try Simulation.run(o)
        #expect(a.traceHash == b.traceHash)
        #expect(a.steps == b.steps)
        #expect(a.detectionAll == b.detectionAll)
        var other = o
        other.seed = 0xC0FFEF
        #expect(try Simulation.run(other).traceHash != a.traceHash)
    }

    @Test func invariantCheckerCatchesABackwardsIncarnation() {
        let sim = Simulator(seed: 1, settings: .lan, network: .lan)
        sim.addNodes(3)
        let newer = sim.member(for: 1, incarnation: 5)
        let older = sim.member(for: 1, incarnation: 4)
        sim.observe(.memberChanged(older, previous: newer), at: 0)
        #expect(sim.violations.contains { $0.contains("non-superseding") })
    }

    @Test func invariantCheckerCatchesAFalseDeathInAFaultFreePhase() {
        let sim = swarm(3, seed: 1)
        var dead = sim.member(for: 2)
        dead.status = .dead
        sim.observe(.memberChanged(dead, previous: sim.member(for: 2)), at: 0)
        #expect(sim.violations.contains { $0.contains("declared node 2 dead") })
        #expect(sim.falselyDeclaredDead == [2])
    }

    @Test func crashRestartRejoinsWithHigherIncarnation() {
        let sim = swarm(10, seed: 7)
        sim.run(until: Instant.zero + .seconds(5))
        let before = sim.nodes[3].persistedIncarnation
        sim.crash(3)
        sim.strict = false
        sim.run(until: Instant.zero + .seconds(40))
        #expect(sim.nodes[0].core?.member(sim.nodes[3].id)?.status == .dead)
        sim.start(3)
        sim.join(3, seeds: [0])
        #expect(sim.nodes[3].persistedIncarnation > before)
        sim.run(until: Instant.zero + .seconds(60))
        #expect(sim.isConverged())
        for i in 0..<10 {
            #expect((sim.nodes[i].core?.member(sim.nodes[3].id)?.incarnation ?? 0) > before)
        }
        #expect(sim.violations.isEmpty, "\(sim.violations)")
    }

    @Test func gracefulLeaveIsSeenAsLeftEverywhere() {
        let sim = swarm(30, seed: 8)
        sim.run(until: Instant.zero + .seconds(3))
        var completed = false
        sim.onEvent = { _, i, e in if i == 5, e == .leaveCompleted { completed = true } }
        sim.leave(5)
        sim.run(until: Instant.zero + .seconds(10))
        #expect(completed)
        for i in 0..<30 where i != 5 {
            #expect(sim.nodes[i].core?.member(sim.nodes[5].id)?.status == .left)
        }
        #expect(sim.falselyDeclaredDead.isEmpty)
    }

    @Test func badOptionsAreClearErrors() {
        #expect(throws: SimulationError.self) {
            try Simulation.run(SimulationOptions(scenario: .join, nodes: 10, seed: 1, profile: "moon"))
        }
        var o = SimulationOptions(scenario: .join, nodes: 10, seed: 1, profile: "lan")
        o.loss = 1.5
        #expect(throws: SimulationError.self) { try Simulation.run(o) }
        #expect(throws: SimulationError.self) {
            try Simulation.run(SimulationOptions(scenario: .join, nodes: 1, seed: 1))
        }
    }

    @Test func jsonHasTheContractFields() throws {
        let r = try Simulation.run(SimulationOptions(scenario: .crash, nodes: 20, seed: 5, profile: "local"))
        let json = try r.parsedJSON()
        for field in [
            "scenario", "nodes", "seed", "profile", "converged", "convergenceMs", "detectionFirstMs", "detectionAllMs",
            "falsePositives", "healMs", "bytesPerNodePerSecond", "messagesPerNodePerSecond", "wallSeconds",
            "peakMemoryBytes",
        ] {
            #expect(json[field] != nil, "missing \(field)")
        }
        #expect(json["healMs"] == .null)
        #expect(json["traceHash"] == .string(String(r.traceHash, radix: 16)))
        #expect(json["passed"] == .bool(r.passed))
        #expect(r.table.contains("crash"))
    }
}

/// Vivaldi in the simulator: coordinates estimate the modelled round trips.
@Suite(.tags(.simulation)) struct CoordinateScenarioTests {
    @Test func coordinatesEstimateRoundTripsInASteadySwarm() throws {
        var o = SimulationOptions(scenario: .steady, nodes: 50, seed: 1, profile: "lan")
        o.durationSeconds = 240
        let r = try checkedRun(o)
        let e = try #require(r.rttError)
        #expect(e.p50 < 0.15, "median relative error \(e.p50) — reproduce: \(o.reproduceCommand)")
        #expect(try r.parsedJSON()["rttErrorPercent"]?["p50"]?.isNumber == true)
    }
}
