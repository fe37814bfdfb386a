import ColonyCore
import ColonySimulator
import Testing

/// What real agents in network namespaces showed (issue 17), reproduced by the simulator:
/// ten agents at 10 % loss per hook (about 19 % per path) declared live members dead, where
/// Serf never did. The cause: one ping-req left unanswered — which loss does to an honest
/// helper all the time — graylisted the helper, and a graylisted member's refutation was
/// then ignored, so its suspicion ran out. With streams that are reliable but not prompt
/// (SYN retransmission, retransmission timeouts: `StreamModel`) the simulator sees it too.
@Suite(.tags(.simulation)) struct RealNetworkScenarioTests {
    static func options(seed: UInt64, strict: Bool) -> SimulationOptions {
        var o = SimulationOptions(scenario: .steady, nodes: 10, seed: seed, profile: "lan")
        o.loss = 0.19
        o.durationSeconds = 120
        o.strictHelperAudit = strict
        return o
    }

    @Test(arguments: [UInt64(3), 5])
    func noLiveMemberIsDeclaredDeadAtTenPercentLossPerHook(seed: UInt64) throws {
        let r = try checkedRun(Self.options(seed: seed, strict: false))
        #expect(r.falsePositives == 0, "reproduce: \(Self.options(seed: seed, strict: false).reproduceCommand)")
    }

    /// The negative control: the same runs with the helper audit as it was fail, so the test
    /// above can fail.
    @Test func theAuditAsItWasLosesLiveMembersInTheSameRuns() throws {
        var failed = 0
        for seed: UInt64 in [3, 5] {
            let r = try Simulation.run(Self.options(seed: seed, strict: true))
            if !r.passed || (r.falsePositives ?? 0) > 0 { failed += 1 }
        }
        #expect(failed == 2, "before the fix both runs lost live members (seeds 3 and 5)")
    }
}
