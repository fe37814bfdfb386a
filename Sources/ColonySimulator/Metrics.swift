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

    /// A summary as given (a decoded report's: only what it printed).
    init(p50: Double, p90: Double, p99: Double, max: Double, min: Double, count: Int) {
        (self.p50, self.p90, self.p99, self.max, self.min, self.count) = (p50, p90, p99, max, min, count)
    }
}

package enum ProcessMemory {
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

/// What the swarm sent, counted as it is sent (before the network loses any of it).
struct Traffic {
    var messagesByKind = [Int](repeating: 0, count: MessageKind.allCases.count)
    var bytesByKind = [Int](repeating: 0, count: MessageKind.allCases.count)
    /// Broadcast payloads (records, events, queries) sent, in any packet: the numerator of
    /// relative message redundancy.
    var payloadsSent = 0

    mutating func sent(_ packet: Packet, bytes: Int) {
        payloadsSent += Self.payloads(in: packet)
        let kind = packet.message.kind.rawValue
        messagesByKind[kind] += 1
        bytesByKind[kind] += bytes
    }

    /// Records, events and queries a packet carries (piggybacked, routed or synced).
    static func payloads(in packet: Packet) -> Int {
        func count(_ us: [Update]) -> Int {
            var n = 0
            for u in us {
                switch u {
                case .record, .event, .query: n += 1
                case .alive, .suspect, .dead, .left, .queen: break
                }
            }
            return n
        }
        var n = count(packet.updates)
        switch packet.message {
        case .route(_, let us): n += count(us)
        case .sync(.stateRecords(_, let records, _, _, _)): n += records.count
        case .sync(.missedEvents(_, let events)), .sync(.recentEvents(_, let events)): n += events.count
        default: break
        }
        return n
    }
}

// MARK: The simulator's measures

extension Simulator {
    package var messagesByKind: [Int] { traffic.messagesByKind }
    package var bytesByKind: [Int] { traffic.bytesByKind }
    /// Broadcast payloads (records, events, queries) sent, in any packet: the numerator of
    /// relative message redundancy.
    package var payloadsSent: Int { traffic.payloadsSent }
    package var totalBytesSent: Int { nodes.reduce(0) { $0 + $1.bytesSent } }
    package var totalMessagesSent: Int { nodes.reduce(0) { $0 + $1.messagesSent } }

    /// Relative error of the coordinates' RTT estimates over `pairs` random pairs of up nodes.
    package func coordinateError(pairs: Int, rng: inout Xoshiro256) -> Distribution? {
        let up = upNodes
        guard up.count > 1, pairs > 0 else { return nil }
        var errors: [Double] = []
        for _ in 0..<pairs {
            let a = up[rng.below(up.count)]
            let b = up[rng.below(up.count)]
            guard a != b, let ca = nodes[a].core?.vivaldi.coordinate, let cb = nodes[b].core?.vivaldi.coordinate else {
                continue
            }
            let truth = trueRTT(a, b)
            errors.append(abs(ca.distance(to: cb) - truth) / truth)
        }
        return Distribution(errors)
    }
}
