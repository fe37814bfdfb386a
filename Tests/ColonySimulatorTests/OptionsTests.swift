import ColonyCore
import Testing

@testable import ColonySimulator

/// Each scenario's options: their defaults, and the spans they give in whole nanoseconds as
/// the scenarios always computed them (a replay depends on it).
@Suite struct OptionsTests {
    @Test func eachScenarioReadsDurationWithItsOwnDefault() {
        func duration(_ kind: ScenarioKind, _ seconds: Double? = nil) -> Duration {
            var o = SimulationOptions(scenario: kind, nodes: 10, seed: 1)
            o.durationSeconds = seconds
            return o.duration
        }
        #expect(duration(.steady) == .seconds(600))
        #expect(duration(.stateChaos) == .seconds(60))
        #expect(duration(.abuse) == .seconds(60))
        #expect(duration(.evict) == .seconds(60))
        #expect(duration(.hiveSafety) == .seconds(30))
        #expect(duration(.hive) == .zero, "no settling unless asked")
        #expect(duration(.loss) == .seconds(120))
        #expect(duration(.gray) == .seconds(90) && duration(.oneway) == .seconds(90))
        #expect(duration(.flipflop) == .seconds(160))
        for kind in [
            ScenarioKind.join, .crash, .pause, .bootstrap, .partition, .write, .queenLoss, .split, .kill, .stall,
        ] {
            #expect(duration(kind, 5) == .zero, "\(kind) takes no duration")
        }
        // --duration 0.9 is 899 999 999.999… ns: the host faults round it, the others truncate.
        let s = 0.3 * 3
        #expect(duration(.steady, s) == .nanoseconds(Int64(s * 1e9)))
        #expect(duration(.hive, s) == .nanoseconds(899_999_999))
        #expect(duration(.gray, s) == .nanoseconds(900_000_000))
    }

    @Test func scenarioOptionsKeepTheirDefaults() {
        let o = SimulationOptions(scenario: .evict, nodes: 500, seed: 1)
        #expect(o.hive.broadcastCount == 200)
        #expect(o.queenLoss.roundCount == 20 && o.queenLoss.killShare == 0.2)
        #expect(o.evict.offenderCount(nodes: 500) == 10 && o.evict.offenderCount(nodes: 50) == 2)
        #expect(o.evict.evictionTTL == .seconds(90))
        #expect(o.hostFault.period == .seconds(20))
        #expect(o.hostFault.stall == .milliseconds(1500) && o.hostFault.stallCount == 15)
        var h = HostFaultOptions()
        h.stallSeconds = 0.3 * 3
        #expect(h.stall == .nanoseconds(900_000_000), "rounded to the nearest nanosecond")
    }

    @Test func theReproduceCommandPrintsEachScenariosFlagsInItsOrder() {
        var o = SimulationOptions(scenario: .queenLoss, nodes: 50, seed: 0xAB, profile: "wan")
        o.durationSeconds = 12.5
        o.hive.formCells = false
        o.hive.broadcasts = 7
        o.queenLoss.rounds = 3
        o.queenLoss.killFraction = 0.3
        o.split.joiners = 4
        o.hive.leaseFraction = 2
        o.evict.offenders = 2
        o.evict.evictTTLSeconds = 30
        o.hostFault.stalls = 2
        o.clockDrift = 0.05
        #expect(
            o.reproduceCommand
                == "swift run -c release colony simulate --scenario queen-loss --nodes 50 --seed 0xab --profile wan"
                + " --duration 12.5 --no-hive --broadcasts 7 --rounds 3 --kill 0.3 --joiners 4 --lease-fraction 2.0"
                + " --offenders 2 --evict-ttl 30.0 --stalls 2 --drift 0.05")
    }
}
