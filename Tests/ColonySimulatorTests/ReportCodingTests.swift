import ColonyCore
import Foundation
import Testing

@testable import ColonySimulator

/// The JSON report reads back: decoding a real run's report gives the run's options and every
/// measure as printed (rounded as printed; of a distribution, the percentiles printed), and
/// encoding what was decoded prints the same text.
@Suite(.tags(.simulation)) struct ReportCodingTests {
    /// One small run per report: the shared measures, steady's round-trip error, the state,
    /// abuse, hive (queen-loss: all five hive reports) and host-fault reports.
    static let runs: [SimulationOptions] = {
        func o(_ kind: ScenarioKind, _ nodes: Int, _ change: (inout SimulationOptions) -> Void = { _ in })
            -> SimulationOptions
        {
            var o = SimulationOptions(scenario: kind, nodes: nodes, seed: 5, profile: "local")
            change(&o)
            return o
        }
        return [
            o(.crash, 20),
            o(.steady, 20) { $0.durationSeconds = 30 },
            o(.stateChaos, 12) {
                $0.durationSeconds = 10
                $0.loss = 0.05
                $0.duplicate = 0.02
            },
            o(.abuse, 15) { $0.durationSeconds = 8 },
            o(.queenLoss, 40) {
                $0.queenLoss.rounds = 2
                $0.hive.broadcasts = 20
            },
            o(.gray, 10) {
                $0.durationSeconds = 20
                $0.hostFault.loss = 0.5
            },
        ]
    }()

    @Test(arguments: runs) func aRunsReportDecodesToWhatItPrinted(options: SimulationOptions) throws {
        let r = try Simulation.run(options)
        let text = r.json
        let back = try JSONDecoder().decode(SimulationResult.self, from: Data(text.utf8))
        #expect(back.json == text)
        #expect(back.options == options)
        // What the report prints exactly comes back exactly.
        #expect(back.traceHash == r.traceHash && back.steps == r.steps)
        #expect(back.converged == r.converged && back.passed == r.passed && back.failure == r.failure)
        #expect(back.violations == r.violations && back.safetyViolations == r.safetyViolations)
        #expect(back.falsePositives == r.falsePositives && back.peakMemoryBytes == r.peakMemoryBytes)
        #expect(back.messagesByKind == r.messagesByKind && back.bytesByKind == r.bytesByKind)
        #expect(back.state.acknowledgedWrites == r.state.acknowledgedWrites)
        #expect(back.abuse.graylistRoundsByKind == r.abuse.graylistRoundsByKind)
        #expect(back.hive.cells == r.hive.cells && back.hive.broadcasts == r.hive.broadcasts)
        #expect(back.queenLoss.killed == r.queenLoss.killed)
        #expect(back.hostFault.stepDownsDuringFault == r.hostFault.stepDownsDuringFault)
        // Measures come back as rounded.
        func tenths(_ x: Double?) -> Double? { x.map { ($0 * 10).rounded() / 10 } }
        #expect(back.convergence?.p50 == tenths(r.convergence?.p50))
        #expect(back.detectionFirstMs == tenths(r.detectionFirstMs))
        #expect(back.queenLoss.failover?.max == tenths(r.queenLoss.failover?.max))
        #expect(back.hostFault.recoveredMs == tenths(r.hostFault.recoveredMs))
        // steady's error prints in percent.
        #expect(tenths(back.rttError.map { $0.p50 * 100 }) == tenths(r.rttError.map { $0.p50 * 100 }))
        #expect(back.rttError?.p90.isNaN ?? true, "a percentile the report does not print is NaN")
    }

    @Test func theReproduceCommandReadsBackToTheSameOptions() throws {
        var o = SimulationOptions(scenario: .evict, nodes: 64, seed: 0xDEAD_BEEF, profile: "wan")
        o.loss = 0.05
        o.duplicate = 0.01
        o.reorder = 0.3
        o.durationSeconds = 12.3
        o.suspicionMultiplier = 6
        o.crash.kind = .process
        o.hive.formCells = false
        o.hive.broadcasts = 9
        o.queenLoss.rounds = 4
        o.queenLoss.killFraction = 0.25
        o.split.joiners = 30
        o.hive.leaseFraction = 0.8
        o.evict.offenders = 3
        o.evict.evictTTLSeconds = 45.5
        o.hostFault.loss = 0.7
        o.hostFault.periodSeconds = 10
        o.hostFault.stallSeconds = 1.25
        o.hostFault.stalls = 4
        o.clockDrift = 0.02
        o.strictHelperAudit = true
        o.newsOnHiveMessages = true
        o.noFlapDamping = true
        o.timerLatenessMs = 2.5
        o.quorumTimeoutMs = 150
        #expect(try SimulationOptions(reproducing: o.reproduceCommand) == o)
        let plain = SimulationOptions(scenario: .join, nodes: 3, seed: 0)
        #expect(try SimulationOptions(reproducing: plain.reproduceCommand) == plain)
    }

    @Test(arguments: [
        "colony simulate --scenario join --nodes 3 --seed 0x1 --profile lan",
        "swift run -c release colony simulate --scenario moon --nodes 3 --seed 0x1 --profile lan",
        "swift run -c release colony simulate --scenario join --nodes 3 --seed 1 --profile lan",
        "swift run -c release colony simulate --scenario join --nodes 3 --seed 0x1",
        "swift run -c release colony simulate --scenario join --nodes 3 --seed 0x1 --profile lan --loss much",
        "swift run -c release colony simulate --scenario join --nodes 3 --seed 0x1 --profile lan --colour red",
        "swift run -c release colony simulate --scenario join --nodes 3 --seed 0x1 --profile lan --rounds",
        "swift run -c release colony simulate --scenario join --nodes 3 --nodes 4 --seed 0x1 --profile lan",
        "swift run -c release colony simulate --scenario join --nodes 3 --seed 0x1 --profile lan --crash maybe",
    ])
    func anythingElseIsRefused(command: String) {
        #expect(throws: SimulationError.self) { try SimulationOptions(reproducing: command) }
    }

    @Test func aReportWithoutAReplayableCommandDoesNotDecode() throws {
        let r = try Simulation.run(SimulationOptions(scenario: .crash, nodes: 10, seed: 2, profile: "local"))
        let text = r.json.replacingOccurrences(of: "\"reproduce\":\"swift run", with: "\"reproduce\":\"run")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SimulationResult.self, from: Data(text.utf8)) }
    }
}
