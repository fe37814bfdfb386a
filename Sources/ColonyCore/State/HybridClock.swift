/// A hybrid logical clock timestamp (Kulkarni et al., 2014): physical milliseconds plus a
/// logical counter, so timestamps follow causality and stay close to wall time. The wall
/// time is an input (the core reads no clock).
public struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var physicalMs: UInt64
    public var logical: UInt32

    public init(physicalMs: UInt64, logical: UInt32) {
        self.physicalMs = physicalMs
        self.logical = logical
    }

    public static let zero = HLCTimestamp(physicalMs: 0, logical: 0)

    public static func < (a: HLCTimestamp, b: HLCTimestamp) -> Bool {
        a.physicalMs != b.physicalMs ? a.physicalMs < b.physicalMs : a.logical < b.logical
    }

    public var description: String { "\(physicalMs).\(logical)" }
}

package struct HybridClock: Sendable, Equatable {
    public private(set) var last: HLCTimestamp = .zero

    public init() {}

    /// A timestamp for a local event at wall time `wallMs`.
    public mutating func now(wallMs: UInt64) -> HLCTimestamp {
        if wallMs > last.physicalMs {
            last = HLCTimestamp(physicalMs: wallMs, logical: 0)
        } else {
            last.logical &+= 1
        }
        return last
    }

    /// Take a remote timestamp into account (on receiving a record).
    public mutating func observe(_ remote: HLCTimestamp, wallMs: UInt64) {
        let p = max(wallMs, last.physicalMs, remote.physicalMs)
        if p == last.physicalMs && p == remote.physicalMs {
            last.logical = max(last.logical, remote.logical) &+ 1
        } else if p == last.physicalMs {
            last.logical &+= 1
        } else if p == remote.physicalMs {
            last = HLCTimestamp(physicalMs: p, logical: remote.logical &+ 1)
        } else {
            last = HLCTimestamp(physicalMs: p, logical: 0)
        }
    }
}
