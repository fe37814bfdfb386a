import ColonyCore
import Foundation

/// p50 / p99 / max of a set of durations (milliseconds).
public struct Distribution: Sendable, Equatable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double
    public var min: Double
    public var count: Int

    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func pct(_ p: Double) -> Double {
            let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
        }
        p50 = pct(0.50)
        p90 = pct(0.90)
        p99 = pct(0.99)
        max = sorted.last!
        min = sorted.first!
        count = sorted.count
    }
}

/// What one simulation measured. Times are milliseconds of virtual time.
public struct SimulationResult: Sendable {
    public var options: SimulationOptions
    public var converged = false
    public var convergence: Distribution?
    public var detectionFirstMs: Double?
    public var detectionAll: Distribution?
    public var falsePositives: Int?
    public var healMs: Double?
    public var bytesPerNodePerSecond: Double?
    public var messagesPerNodePerSecond: Double?
    public var wallSeconds: Double = 0
    public var peakMemoryBytes: Int = 0
    public var virtualSeconds: Double = 0
    public var steps = 0
    public var traceHash: UInt64 = 0
    public var violations: [String] = []
    /// Why the run failed its liveness phase, if it did.
    public var failure: String?
    /// (milliseconds since the news, fraction of nodes that know it).
    public var timeline: [(ms: Double, fraction: Double)] = []
    /// What the timeline's "news" is, for plots.
    public var newsLabel = ""
    /// Messages and bytes sent over the whole run, by message kind.
    public var messagesByKind: [String: Int] = [:]
    public var bytesByKind: [String: Int] = [:]
    /// State scenarios (issue #4).
    public var acknowledgedWrites: Int?
    public var lostWrites: Int?
    public var divergentNodes: Int?
    public var falseSiblings: Int?
    /// Most siblings any key had at any node (concurrent writes really happened).
    public var maxSiblings: Int?
    /// state-chaos: after faults stop, until every live node holds the same records (healMs
    /// is until membership has converged too).
    public var stateConvergedMs: Double?
    /// steady (issue #6): how well Vivaldi coordinates estimate round trips — relative error
    /// |estimated − true| / true over random pairs of live nodes.
    public var rttError: Distribution?
    /// abuse (issue #5): honest (node, write or event) pairs delivered ÷ all such pairs.
    public var honestDeliveryRatio: Double?
    public var offenders: Int?
    /// Offenders graylisted by at least one honest node; honest nodes graylisted by any.
    public var offendersGraylisted: Int?
    public var honestGraylisted: Int?
    /// Gossip rounds from the first offence an honest node met to its graylisting of the
    /// offender: the worst pair, and the worst per kind of offender.
    public var graylistRoundsMax: Int?
    public var graylistRoundsByKind: [String: Int] = [:]
    /// (honest node, offender) pairs that met an offence and never graylisted.
    public var offencePairsNotGraylisted: Int?
    /// The hive (issue #6): cells formed and their sizes, when every node first routed
    /// through a leased queen (ms of virtual time).
    public var cells: Int?
    public var cellSizes: Distribution?
    public var hiveFormedMs: Double?
    /// Broadcasts sent; (node, broadcast) pairs delivered ÷ expected; relative message
    /// redundancy (payloads sent ÷ (N − 1) per broadcast, minus 1); last delivery hop (the
    /// most hops any delivery took); time from each broadcast to its last delivery.
    public var broadcasts: Int?
    public var deliveryRatio: Double?
    public var rmr: Double?
    public var ldh: Int?
    public var broadcastLatency: Distribution?
    /// queen-loss: crash → a majority of the cell follows a new queen; crash → elected.
    public var failover: Distribution?
    public var electionMs: Distribution?
    public var killed: Int?
    /// split: cells that bred, and each split's time from the queen's decision until every
    /// live voter she handed over follows the new cell's queen; splits that never completed.
    public var splits: Int?
    public var splitTime: Distribution?
    public var splitsIncomplete: Int?
    /// split: cells dissolved below their low-water mark, and the time from the shrink until
    /// all their remaining members route through other cells.
    public var merges: Int?
    public var mergeTime: Distribution?
    /// hive: per worker, the true RTT to its queen ÷ the true RTT to the nearest queen with
    /// room (its own included), at the end of the run.
    public var queenRTTRatio: Distribution?
    /// hive-safety: faults injected (queens cut off, members paused).
    public var faults: Int?
    /// evict: offenders evicted (known to every honest member), honest members evicted
    /// anywhere (must be 0); from the attack's start until every honest member refuses an
    /// offender; from a lift, and from an expiry, until every honest member holds it alive
    /// again; offenders found in a cell's roster while evicted.
    public var offendersEvicted: Int?
    public var honestEvicted: Int?
    public var evictTime: Distribution?
    public var liftTime: Distribution?
    public var readmitTime: Distribution?
    public var evictedInRoster: Int?
    /// Broadcast scenarios: packets refused by rate limits, all nodes, the whole run (honest
    /// senders should trip none: a queen relays the swarm's events to every worker).
    public var rateLimited: Int?
    /// At most one queen per cell per term, and no two lease holders of a cell at once.
    public var safetyViolations = 0

    /// Passed: no invariant violated and the liveness phase converged.
    public var passed: Bool {
        violations.isEmpty && converged && failure == nil && (lostWrites ?? 0) == 0 && (falseSiblings ?? 0) == 0
    }

    public init(options: SimulationOptions) { self.options = options }

    static func fmt(_ v: Double?) -> String {
        guard let v else { return "null" }
        if v.isNaN || v.isInfinite { return "null" }
        return String(format: "%.1f", v)
    }

    static func dist(_ d: Distribution?) -> String {
        guard let d else { return "null" }
        return "{\"p50\": \(fmt(d.p50)), \"p90\": \(fmt(d.p90)), \"p99\": \(fmt(d.p99)), \"max\": \(fmt(d.max))}"
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }

    /// One JSON object; the field names are a contract (issue #2).
    public var json: String {
        var fields: [(String, String)] = [
            ("scenario", Self.quote(options.scenario.rawValue)),
            ("nodes", "\(options.nodes)"),
            ("seed", Self.quote(options.seedText)),
            ("profile", Self.quote(options.profile)),
            ("loss", "\(options.loss)"),
            ("converged", converged ? "true" : "false"),
            ("convergenceMs", Self.dist(convergence)),
            ("detectionFirstMs", Self.fmt(detectionFirstMs)),
            ("detectionAllMs", Self.dist(detectionAll)),
            ("falsePositives", falsePositives.map(String.init) ?? "null"),
            ("healMs", Self.fmt(healMs)),
            ("bytesPerNodePerSecond", Self.fmt(bytesPerNodePerSecond)),
            ("messagesPerNodePerSecond", messagesPerNodePerSecond.map { String(format: "%.3f", $0) } ?? "null"),
            ("wallSeconds", String(format: "%.2f", wallSeconds)),
            ("peakMemoryBytes", "\(peakMemoryBytes)"),
        ]
        if options.scenario == .write || options.scenario == .stateChaos {
            fields.append(("acknowledgedWrites", acknowledgedWrites.map(String.init) ?? "null"))
            fields.append(("lostWrites", lostWrites.map(String.init) ?? "null"))
            fields.append(("divergentNodes", divergentNodes.map(String.init) ?? "null"))
            fields.append(("falseSiblings", falseSiblings.map(String.init) ?? "null"))
            fields.append(("maxSiblings", maxSiblings.map(String.init) ?? "null"))
            fields.append(("stateConvergedMs", Self.fmt(stateConvergedMs)))
        }
        if options.scenario == .steady {
            fields.append(
                (
                    "rttErrorPercent",
                    rttError.map {
                        "{\"p50\": \(Self.fmt($0.p50 * 100)), \"p99\": \(Self.fmt($0.p99 * 100)), \"max\": \(Self.fmt($0.max * 100))}"
                    } ?? "null"
                ))
        }
        if options.scenario == .abuse {
            fields.append(("honestDeliveryRatio", honestDeliveryRatio.map { String(format: "%.4f", $0) } ?? "null"))
            fields.append(("offenders", offenders.map(String.init) ?? "null"))
            fields.append(("offendersGraylisted", offendersGraylisted.map(String.init) ?? "null"))
            fields.append(("graylistRoundsMax", graylistRoundsMax.map(String.init) ?? "null"))
            fields.append(
                (
                    "graylistRoundsByKind",
                    "{"
                        + graylistRoundsByKind.keys.sorted().map { "\(Self.quote($0)): \(graylistRoundsByKind[$0]!)" }
                        .joined(separator: ", ") + "}"
                ))
            fields.append(("offencePairsNotGraylisted", offencePairsNotGraylisted.map(String.init) ?? "null"))
            fields.append(("honestGraylisted", honestGraylisted.map(String.init) ?? "null"))
        }
        if options.scenario.isHive {
            fields.append(("cells", cells.map(String.init) ?? "null"))
            fields.append(
                (
                    "cellSizes",
                    cellSizes.map {
                        "{\"p50\": \(Self.fmt($0.p50)), \"max\": \(Self.fmt($0.max)), \"min\": \(Self.fmt($0.min))}"
                    } ?? "null"
                ))
            fields.append(("hiveFormedMs", Self.fmt(hiveFormedMs)))
            fields.append(("broadcasts", broadcasts.map(String.init) ?? "null"))
            fields.append(("rmr", rmr.map { String(format: "%.4f", $0) } ?? "null"))
            fields.append(("deliveryRatio", deliveryRatio.map { String(format: "%.5f", $0) } ?? "null"))
            fields.append(("ldh", ldh.map(String.init) ?? "null"))
            fields.append(("rateLimited", rateLimited.map(String.init) ?? "null"))
            fields.append(("broadcastLatencyMs", Self.dist(broadcastLatency)))
            fields.append(("failoverMs", Self.dist(failover)))
            fields.append(("electionMs", Self.dist(electionMs)))
            fields.append(("killed", killed.map(String.init) ?? "null"))
            fields.append(("faults", faults.map(String.init) ?? "null"))
            fields.append(("splits", splits.map(String.init) ?? "null"))
            fields.append(("splitMs", Self.dist(splitTime)))
            fields.append(("splitsIncomplete", splitsIncomplete.map(String.init) ?? "null"))
            fields.append(("merges", merges.map(String.init) ?? "null"))
            fields.append(("mergeMs", Self.dist(mergeTime)))
            fields.append(("offenders", offenders.map(String.init) ?? "null"))
            fields.append(("offendersEvicted", offendersEvicted.map(String.init) ?? "null"))
            fields.append(("honestEvicted", honestEvicted.map(String.init) ?? "null"))
            fields.append(("evictMs", Self.dist(evictTime)))
            fields.append(("liftMs", Self.dist(liftTime)))
            fields.append(("readmitMs", Self.dist(readmitTime)))
            fields.append(("evictedInRoster", evictedInRoster.map(String.init) ?? "null"))
            fields.append(
                (
                    "queenRttRatio",
                    queenRTTRatio.map {
                        String(format: "{\"p50\": %.3f, \"p90\": %.3f, \"max\": %.3f}", $0.p50, $0.p90, $0.max)
                    } ?? "null"
                ))
        }
        fields.append(("safetyViolations", "\(safetyViolations)"))
        fields.append(("virtualSeconds", String(format: "%.3f", virtualSeconds)))
        fields.append(("steps", "\(steps)"))
        fields.append(("traceHash", Self.quote(String(traceHash, radix: 16))))
        fields.append(("violations", "[" + violations.map(Self.quote).joined(separator: ", ") + "]"))
        fields.append(("failure", failure.map(Self.quote) ?? "null"))
        fields.append(("passed", passed ? "true" : "false"))
        let kinds = messagesByKind.keys.sorted().map { k in
            "\(Self.quote(k)): {\"messages\": \(messagesByKind[k]!), \"bytes\": \(bytesByKind[k] ?? 0)}"
        }
        fields.append(("sentByKind", "{" + kinds.joined(separator: ", ") + "}"))
        fields.append(("reproduce", Self.quote(options.reproduceCommand)))
        return "{" + fields.map { "\(Self.quote($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// A readable table.
    public var table: String {
        func ms(_ v: Double?) -> String { v.map { String(format: "%.0f ms", $0) } ?? "—" }
        func d(_ x: Distribution?) -> String {
            x.map { String(format: "p50 %.0f ms · p99 %.0f ms · max %.0f ms (n=%d)", $0.p50, $0.p99, $0.max, $0.count) }
                ?? "—"
        }
        var rows: [(String, String)] = [
            ("scenario", options.scenario.rawValue),
            ("nodes", "\(options.nodes)"),
            ("seed", options.seedText),
            ("profile", options.profile),
            ("loss", String(format: "%.1f%%", options.loss * 100)),
            ("converged", converged ? "yes" : "NO"),
            ("convergence", d(convergence)),
            ("first detection", ms(detectionFirstMs)),
            ("detection (all)", d(detectionAll)),
            ("false positives", falsePositives.map(String.init) ?? "—"),
            ("heal", ms(healMs)),
            (
                "load",
                bytesPerNodePerSecond.map {
                    String(format: "%.1f B/node/s, %.2f msg/node/s", $0, messagesPerNodePerSecond ?? 0)
                } ?? "—"
            ),
            ("virtual time", String(format: "%.1f s in %d steps", virtualSeconds, steps)),
            (
                "writes",
                acknowledgedWrites.map {
                    "\($0) acknowledged · \(lostWrites ?? 0) lost · \(divergentNodes ?? 0) divergent nodes · \(falseSiblings ?? 0) false siblings"
                } ?? "—"
            ),
            (
                "abuse",
                honestDeliveryRatio.map {
                    String(
                        format:
                            "honest delivery %.4f · %d/%d offenders graylisted · worst %d rounds %@ · %d honest graylisted",
                        $0, offendersGraylisted ?? 0, offenders ?? 0, graylistRoundsMax ?? -1,
                        graylistRoundsByKind.description, honestGraylisted ?? 0)
                } ?? "—"
            ),
            (
                "hive",
                cells.map {
                    String(
                        format: "%d cells (sizes p50 %.0f, %.0f–%.0f) formed at %.0f ms", $0, cellSizes?.p50 ?? 0,
                        cellSizes?.min ?? 0, cellSizes?.max ?? 0, hiveFormedMs ?? 0)
                } ?? "—"
            ),
            (
                "broadcasts",
                broadcasts.map {
                    String(
                        format: "%d · delivery %.5f · rmr %@ · ldh %d · latency %@", $0, deliveryRatio ?? 0,
                        rmr.map { String(format: "%.4f", $0) } ?? "—", ldh ?? 0, d(broadcastLatency))
                } ?? "—"
            ),
            ("failover", failover.map { _ in d(failover) + " (elected " + d(electionMs) + ")" } ?? "—"),
            ("splits", splits.map { "\($0) · " + d(splitTime) + " · \(splitsIncomplete ?? 0) incomplete" } ?? "—"),
            ("merges", merges.map { "\($0) · " + d(mergeTime) } ?? "—"),
            (
                "evictions",
                offendersEvicted.map {
                    "\($0)/\(offenders ?? 0) offenders evicted · \(honestEvicted ?? 0) honest evicted · evict "
                        + d(evictTime) + " · lift " + d(liftTime) + " · readmit " + d(readmitTime)
                } ?? "—"
            ),
            (
                "queen rtt ÷ best",
                queenRTTRatio.map {
                    String(format: "p50 %.2f · p90 %.2f · max %.2f (n=%d)", $0.p50, $0.p90, $0.max, $0.count)
                } ?? "—"
            ),
            ("safety violations", "\(safetyViolations)"),
            (
                "rtt estimates",
                rttError.map {
                    String(format: "error p50 %.1f%% · p99 %.1f%% (n=%d pairs)", $0.p50 * 100, $0.p99 * 100, $0.count)
                } ?? "—"
            ),
            ("wall time", String(format: "%.2f s", wallSeconds)),
            ("peak memory", String(format: "%.1f MB", Double(peakMemoryBytes) / 1e6)),
            ("trace hash", String(traceHash, radix: 16)),
            ("invariants", violations.isEmpty ? "all held" : "\(violations.count) VIOLATED"),
        ]
        if let failure { rows.append(("failure", failure)) }
        let width = rows.map(\.0.count).max() ?? 0
        var out = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(
            separator: "\n")
        for v in violations.prefix(10) { out += "\n  ! " + v }
        return out
    }
}

public enum ProcessMemory {
    /// Peak resident set size of this process (VmHWM), in bytes; 0 where unknown.
    public static func peakBytes() -> Int { field("VmHWM:") }

    /// Resident set size now (VmRSS), in bytes; 0 where unknown.
    public static func residentBytes() -> Int { field("VmRSS:") }

    static func field(_ name: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return (Int(line.filter(\.isNumber)) ?? 0) * 1024
        }
        return 0
    }
}
