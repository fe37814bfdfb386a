import ColonyCore
import Foundation

// The readable report (`colony simulate` without --json): one row per measure, "—" where a
// scenario measures nothing, then the first violated invariants.

extension SimulationResult {
    /// A readable table.
    public var table: String {
        var rows = membershipRows + [stateRow, abuseRow, hostFaultRow] + hiveRows + runRows
        if let failure { rows.append(("failure", failure)) }
        let width = rows.map(\.0.count).max() ?? 0
        var out = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
        for v in violations.prefix(10) { out += "\n  ! " + v }
        return out
    }

    static func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "—" }

    static func d(_ x: Distribution?) -> String {
        x.map { String(format: "p50 %.0f ms · p99 %.0f ms · max %.0f ms (n=%d)", $0.p50, $0.p99, $0.max, $0.count) }
            ?? "—"
    }

    var membershipRows: [(String, String)] {
        let load = bytesPerNodePerSecond.map {
            String(format: "%.1f B/node/s, %.2f msg/node/s", $0, messagesPerNodePerSecond ?? 0)
        }
        return [
            ("scenario", options.scenario.rawValue),
            ("nodes", "\(options.nodes)"),
            ("seed", options.seedText),
            ("profile", options.profile),
            ("loss", String(format: "%.1f%%", options.loss * 100)),
            ("converged", converged ? "yes" : "NO"),
            ("convergence", Self.d(convergence)),
            ("first detection", Self.ms(detectionFirstMs)),
            ("detection (all)", Self.d(detectionAll)),
            ("false positives", falsePositives.map(String.init) ?? "—"),
            ("heal", Self.ms(healMs)),
            ("load", load ?? "—"),
            ("virtual time", String(format: "%.1f s in %d steps", virtualSeconds, steps)),
        ]
    }

    var stateRow: (String, String) {
        let s = state
        let writes = s.acknowledgedWrites.map {
            "\($0) acknowledged · \(s.lostWrites ?? 0) lost · \(s.divergentNodes ?? 0) divergent nodes · "
                + "\(s.falseSiblings ?? 0) false siblings"
        }
        return ("writes", writes ?? "—")
    }

    var abuseRow: (String, String) {
        let a = abuse
        // As a dictionary prints, in a stable order.
        let pairs = a.graylistRoundsByKind.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }
        let byKind = "[" + pairs.joined(separator: ", ") + "]"
        let text = a.honestDeliveryRatio.map {
            String(
                format: "honest delivery %.4f · %d/%d offenders graylisted · worst %d rounds %@ · "
                    + "%d honest graylisted",
                $0, a.offendersGraylisted ?? 0, a.offenders ?? 0, a.graylistRoundsMax ?? -1,
                byKind, a.honestGraylisted ?? 0)
        }
        return ("abuse", text ?? "—")
    }

    var hostFaultRow: (String, String) {
        let h = hostFault
        let text = h.hostDeaths.map { _ in
            (h.host.map { "node \($0)" } ?? "every host")
                + ": declared dead \(h.hostDeaths ?? 0) times by \(h.hostDeathObservers ?? 0) observers · "
                + "\(h.hostStatusChanges ?? 0) live/gone changes · "
                + "\(h.healthySuspicions ?? 0) suspicions of healthy members · recovered \(Self.ms(h.recoveredMs))"
                + hiveDuringFault
        }
        return ("faulty host", text ?? "—")
    }

    /// " · N queen terms begun during the fault (step-downs: reason count, …)", or "".
    var hiveDuringFault: String {
        guard let terms = hostFault.queenTermsDuringFault else { return "" }
        let reasons = (hostFault.stepDownsDuringFault ?? [:]).sorted { $0.key < $1.key }
        let why =
            reasons.isEmpty ? "" : " (step-downs: \(reasons.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))"
        return " · \(terms) queen terms begun during the fault" + why
    }

    var runRows: [(String, String)] {
        let rtt = rttError.map {
            String(format: "error p50 %.1f%% · p99 %.1f%% (n=%d pairs)", $0.p50 * 100, $0.p99 * 100, $0.count)
        }
        return [
            ("safety violations", "\(safetyViolations)"),
            ("rtt estimates", rtt ?? "—"),
            ("wall time", String(format: "%.2f s", wallSeconds)),
            ("peak memory", String(format: "%.1f MB", Double(peakMemoryBytes) / 1e6)),
            ("trace hash", String(traceHash, radix: 16)),
            ("invariants", violations.isEmpty ? "all held" : "\(violations.count) VIOLATED"),
        ]
    }
}

extension SimulationResult {
    /// The hive's rows of the table: shape, broadcasts, failover, splits, merges, evictions
    /// and nearness.
    var hiveRows: [(String, String)] {
        let d = SimulationResult.d
        let h = hive
        let shape = h.cells.map {
            String(
                format: "%d cells (sizes p50 %.0f, %.0f–%.0f) formed at %.0f ms", $0, h.cellSizes?.p50 ?? 0,
                h.cellSizes?.min ?? 0, h.cellSizes?.max ?? 0, h.hiveFormedMs ?? 0)
        }
        let sent = h.broadcasts.map {
            String(
                format: "%d · delivery %.5f · rmr %@ · ldh %d · latency %@", $0, h.deliveryRatio ?? 0,
                h.rmr.map { String(format: "%.4f", $0) } ?? "—", h.ldh ?? 0, d(h.broadcastLatency))
        }
        let failover = queenLoss.failover.map { _ in
            d(queenLoss.failover) + " (elected " + d(queenLoss.electionMs) + ")"
        }
        let splits = split.splits.map {
            "\($0) · " + d(split.splitTime) + " · \(split.splitsIncomplete ?? 0) incomplete"
        }
        let e = evict
        let evictions = e.offendersEvicted.map {
            "\($0)/\(e.offenders ?? 0) offenders evicted · \(h.honestEvicted ?? 0) honest evicted · evict "
                + d(e.evictTime)
                + (e.hostilePackets.map {
                    " · \(e.offendersGraylisted ?? 0)/\(e.offenders ?? 0) graylisted or evicted · "
                        + "\(e.honestDead ?? 0) honest dead · \($0) hostile packets"
                } ?? " · lift " + d(e.liftTime) + " · readmit " + d(e.readmitTime))
        }
        let nearness = h.queenRTTRatio.map {
            String(format: "p50 %.2f · p90 %.2f · max %.2f (n=%d)", $0.p50, $0.p90, $0.max, $0.count)
        }
        return [
            ("hive", shape ?? "—"),
            ("broadcasts", sent ?? "—"),
            ("failover", failover ?? "—"),
            ("splits", splits ?? "—"),
            ("merges", split.merges.map { "\($0) · " + d(split.mergeTime) } ?? "—"),
            ("evictions", evictions ?? "—"),
            ("queen rtt ÷ best", nearness ?? "—"),
        ]
    }
}
