/// A point in time handed to the core by its driver.
///
/// The core never reads a clock (docs/design.md §1): the simulator passes virtual time, the real
/// driver passes a monotonic reading. Nanoseconds since an arbitrary, driver-chosen origin.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable
    public static func milliseconds(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    @inlinable
    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    @inlinable
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanosecondsInt64)
    }

    @inlinable
    public func advanced(byNanoseconds ns: Int64) -> Instant { Instant(nanoseconds: nanoseconds &+ ns) }

    /// Elapsed nanoseconds from `earlier` to `self` (negative if `earlier` is later).
    @inlinable
    public func nanoseconds(since earlier: Instant) -> Int64 { nanoseconds &- earlier.nanoseconds }

    public var milliseconds: Double { Double(nanoseconds) / 1_000_000 }

    public var description: String { "\(milliseconds)ms" }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for reports).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds (saturating for absurdly large values).
    @inlinable
    public var nanosecondsInt64: Int64 {
        let (seconds, attoseconds) = components
        let (mul, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return mul &+ attoseconds / 1_000_000_000
    }
}
