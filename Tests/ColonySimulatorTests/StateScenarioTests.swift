import ColonyCore
import Testing

@testable import ColonySimulator

/// Replicated state in the simulator (issue #4): fixed seeds, N ≤ 100. A failing run names
/// the command that replays it.
@Suite(.tags(.simulation)) struct StateScenarioTests {
    @Test(arguments: [UInt64(1), 2])
    func oneWriteReachesEveryNodeWithinJoinDisseminationTime(seed: UInt64) throws {
        let r = try checkedRun(SimulationOptions(scenario: .write, nodes: 100, seed: seed, profile: "lan"))
        let c = try #require(r.convergence)
        #expect(c.count == 100)
        #expect(c.max < 2_200, "a write spreads as fast as news of a joiner (2.2 s at N=100)")
        #expect(r.state.lostWrites == 0)
    }

    @Test(arguments: [UInt64(1), 2])
    func chaosLosesNoAcknowledgedWriteAndEndsIdentical(seed: UInt64) throws {
        var o = SimulationOptions(scenario: .stateChaos, nodes: 40, seed: seed, profile: "lan")
        o.loss = 0.05
        o.duplicate = 0.02
        o.reorder = 0.05
        o.durationSeconds = 30
        let r = try checkedRun(o)
        #expect(try #require(r.state.acknowledgedWrites) > 250)
        #expect(r.state.lostWrites == 0)
        #expect(r.state.divergentNodes == 0)
        #expect(r.state.falseSiblings == 0)
        #expect(try #require(r.state.maxSiblings) >= 2, "blind writes must really have produced concurrent siblings")
        let json = try r.parsedJSON()
        #expect(json["acknowledgedWrites"]?.isNumber == true && json["lostWrites"] == .number(0))
    }

    @Test func theSameSeedReplaysTheSameRun() throws {
        var o = SimulationOptions(scenario: .stateChaos, nodes: 20, seed: 9, profile: "lan")
        o.durationSeconds = 15
        let a = try Simulation.run(o)
        let b = try Simulation.run(o)
        #expect(a.traceHash == b.traceHash)
        #expect(a.state.acknowledgedWrites == b.state.acknowledgedWrites)
    }

    /// The oracle can fail: a write whose context claims a record its writer never saw is
    /// caught the moment it supersedes that record anywhere.
    @Test func theOracleCatchesAForgedContext() throws {
        let sim = Simulator(seed: 4, settings: .lan, network: .lan)
        sim.addNodes(3)
        let table = sim.convergedTable(0..<3)
        for i in 0..<3 { sim.start(i, known: table) }
        sim.partition([1, 2, 2])
        let original = try #require(sim.put(0, key: "k", value: [1]))
        sim.run(until: Instant.zero + .seconds(2))
        #expect(sim.nodes[1].core!.get("k").siblings.isEmpty, "node 1 is cut off and has not seen the write")
        // Node 1 writes with node 0's context, which it never read.
        let forged = sim.nodes[0].core!.get("k").context
        sim.put(1, key: "k", value: [2], read: ReadResult(siblings: [], context: forged))
        sim.heal()
        sim.run(until: Instant.zero + .seconds(30))
        #expect(sim.violations.contains { $0.contains("superseded \(original.dot)") }, "\(sim.violations)")
        // And the lost write is visible as such: held nowhere, in no held write's past.
        #expect(!sim.oracle.accountedFor(original.dot, in: sim.nodes[2].core!.state.keyState("k")))
    }
}
