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

    @Test(arguments: [UInt64(2), 3, 5, 13])
    func noLiveMemberIsDeclaredDeadAtTenPercentLossPerHook(seed: UInt64) throws {
        let r = try checkedRun(Self.options(seed: seed, strict: false))
        #expect(r.falsePositives == 0, "reproduce: \(Self.options(seed: seed, strict: false).reproduceCommand)")
    }

    /// The negative control: the same runs with the helper audit as it was fail, so the test
    /// above can fail. When the audit was fixed, seeds 3 and 5 lost live members with it; since
    /// a node that cannot hear no longer convicts alone and suspects are told directly, the
    /// old audit kills no one in these runs, but it still graylists honest members and
    /// ignores their news, so the swarm does not stay converged (seeds 2 and 13).
    @Test func theAuditAsItWasSplitsTheSwarmsViewsInTheSameRuns() throws {
        var failed = 0
        for seed: UInt64 in [2, 13] {
            let r = try Simulation.run(Self.options(seed: seed, strict: true))
            if !r.passed || (r.falsePositives ?? 0) > 0 { failed += 1 }
        }
        #expect(failed == 2, "with the old audit both runs fail (seeds 2 and 13)")
    }
}

/// Loss on every host, or one faulty host in a healthy swarm of ten, with the hive on, as the
/// real-network harness runs them (scripts/netharness.py --scenario loss|gray|oneway|flipflop|
/// stall): no healthy member
/// is ever declared dead, a stalled one neither, and all see all alive after the fault.
@Suite(.tags(.simulation)) struct HostFaultScenarioTests {
    static func options(_ kind: ScenarioKind, seed: UInt64 = 1) -> SimulationOptions {
        var o = SimulationOptions(scenario: kind, nodes: 10, seed: seed, profile: "lan")
        switch kind {
        case .loss, .gray, .oneway: o.durationSeconds = 60
        case .flipflop: o.durationSeconds = 80
        default: o.hostFault.stalls = 8
        }
        return o
    }

    @Test(arguments: [ScenarioKind.loss, .gray, .oneway, .flipflop, .stall])
    func noHealthyMemberIsDeclaredDead(kind: ScenarioKind) throws {
        let o = Self.options(kind)
        let r = try checkedRun(o)
        #expect(r.falsePositives == 0, "reproduce: \(o.reproduceCommand)")
        #expect((r.hostFault.host != nil) == (kind != .loss))
        #expect(r.hostFault.recoveredMs != nil)
        switch kind {
        case .gray, .flipflop:
            // The fault reaches the host: it is suspected (not a clean run under another name).
            #expect((r.hostFault.hostStatusChanges ?? 0) > 0, "reproduce: \(o.reproduceCommand)")
        case .stall:
            // A stall of 1.5 s is not a death.
            #expect(r.hostFault.hostDeaths == 0, "reproduce: \(o.reproduceCommand)")
        default:
            break
        }
    }

    /// Flap damping (issue 17): over four flip-flop cycles (160 s) every observer saw the
    /// flapping host go and come back four times, in the simulator as in real runs (Serf
    /// too: 72 changes among nine observers). Held from its third comeback, it changes
    /// fewer times, no healthy member dies, and it is back everywhere after the fault.
    @Test(arguments: [UInt64(1), 2])
    func aFlipFloppingMemberIsHeldOut(seed: UInt64) throws {
        var o = Self.options(.flipflop, seed: seed)
        o.durationSeconds = 160
        let damped = try checkedRun(o)
        o.noFlapDamping = true
        let undamped = try checkedRun(o)
        let held = try #require(damped.hostFault.hostStatusChanges)
        let free = try #require(undamped.hostFault.hostStatusChanges)
        #expect(free == 72, "without damping: dead and back in each of 4 cycles, 9 observers")
        #expect(held < free, "reproduce: \(o.reproduceCommand)")
        #expect(damped.falsePositives == 0 && damped.hostFault.recoveredMs != nil)
    }

    @Test func hostFaultOptionsAreChecked() {
        var o = Self.options(.gray)
        o.hostFault.loss = 1.5
        #expect(throws: SimulationError.self) { try Simulation.run(o) }
        o = Self.options(.flipflop)
        o.hostFault.periodSeconds = 0
        #expect(throws: SimulationError.self) { try Simulation.run(o) }
    }
}

/// kill -9 with the hive on (issue 17): real agents saw half the survivors learn of a death in
/// 1–2 s and the rest 5–12 s later, because the news rode on heartbeat acks to the queen and
/// spent its transmissions there. Only SWIM's messages carry news now.
@Suite(.tags(.simulation)) struct KillWithTheHiveTests {
    static func options(seed: UInt64, newsOnHiveMessages: Bool) -> SimulationOptions {
        var o = SimulationOptions(scenario: .kill, nodes: 10, seed: seed, profile: "lan")
        o.newsOnHiveMessages = newsOnHiveMessages
        return o
    }

    @Test(arguments: [UInt64(1), 3, 5])
    func everySurvivorSeesTheDeathWithinFiveSeconds(seed: UInt64) throws {
        let o = Self.options(seed: seed, newsOnHiveMessages: false)
        let r = try checkedRun(o)
        let all = try #require(r.detectionAll, "reproduce: \(o.reproduceCommand)")
        #expect(all.count == 9)
        #expect(all.max <= 5_000, "reproduce: \(o.reproduceCommand)")
    }

    /// The negative control: with news on the hive's messages, the same runs are slow.
    @Test func newsOnTheHiveMessagesReachesTheLastSurvivorLate() throws {
        var slow = 0
        for seed: UInt64 in [1, 3, 5] {
            let r = try Simulation.run(Self.options(seed: seed, newsOnHiveMessages: true))
            if (r.detectionAll?.max ?? .infinity) > 5_000 { slow += 1 }
        }
        #expect(slow >= 2, "before the fix, at least two of the three runs took over 5 s")
    }
}

/// Queens under loss (issue 17): with 10 % loss on every host (about 19 % per path), real cells
/// changed queens every few seconds (2 to 72 new terms in two minutes, every step-down "lost
/// quorum"), while the simulator saw none. Its timers fired exactly on time, so a queen's
/// check-quorum window (150 ms) held three heartbeat rounds, where a real event loop, whose
/// timers always fire a little late, holds two. With timers up to 2 ms late the simulator
/// shows the churn; with the window at `quorumTimeout` (600 ms) it is gone, and the lease,
/// which safety rests on, is unchanged.
@Suite(.tags(.simulation)) struct QueensUnderLossTests {
    static func options(seed: UInt64, quorumTimeoutMs: Double? = nil, timerLatenessMs: Double? = nil)
        -> SimulationOptions
    {
        var o = SimulationOptions(scenario: .loss, nodes: 10, seed: seed, profile: "lan")
        o.durationSeconds = 120
        o.quorumTimeoutMs = quorumTimeoutMs
        o.timerLatenessMs = timerLatenessMs
        return o
    }

    static let seeds: [UInt64] = [1, 3, 5]

    @Test func noQueenStepsDownUnderTenPercentLoss() throws {
        for seed in Self.seeds {
            let o = Self.options(seed: seed)
            let r = try checkedRun(o)
            #expect(r.hostFault.queenTermsDuringFault == 0, "reproduce: \(o.reproduceCommand)")
        }
    }

    /// The negative control: the old window, with timers as late as a real event loop's.
    @Test func theOldWindowChangesQueensUnderLoss() throws {
        for seed in Self.seeds {
            let r = try Simulation.run(Self.options(seed: seed, quorumTimeoutMs: 150))
            #expect((r.hostFault.queenTermsDuringFault ?? 0) > 0, "seed \(seed)")
            #expect(r.hostFault.stepDownsDuringFault?["lost quorum", default: 0] ?? 0 > 0, "seed \(seed)")
        }
    }

    /// And why the simulator missed it: with exact timers the old window shows nothing.
    @Test func exactTimersHidIt() throws {
        for seed in Self.seeds {
            let r = try Simulation.run(Self.options(seed: seed, quorumTimeoutMs: 150, timerLatenessMs: 0))
            #expect(r.hostFault.queenTermsDuringFault == 0, "seed \(seed)")
        }
    }
}
