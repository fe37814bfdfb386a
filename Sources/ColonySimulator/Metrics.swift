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
