/// A point in time handed to the core by its driver.
///
/// The core never reads a clock (docs/design.md §1): the simulator passes virtual time, the real
/// driver passes a monotonic reading. Whole nanoseconds since an arbitrary, driver-chosen origin.
///
/// The core computes with `Instant` and `Duration`: `later - earlier` is a `Duration`, and an
/// instant moves by a duration (`now + settings.probeInterval`). `nanoseconds` and
/// `init(nanoseconds:)` are the raw boundary, for drivers and the wire.
package struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Instant(nanoseconds: 0)

    @inlinable
    public static func milliseconds(_ ms: Int64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    @inlinable
    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `lhs` moved later by `rhs`, truncated to whole nanoseconds (toward zero).
    @inlinable
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.nanosecondsInt64)
    }

    /// `lhs` moved earlier by `rhs`, truncated to whole nanoseconds (toward zero).
    @inlinable
    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.nanosecondsInt64)
    }

    @inlinable
    public static func += (lhs: inout Instant, rhs: Duration) { lhs = lhs + rhs }

    @inlinable
    public static func -= (lhs: inout Instant, rhs: Duration) { lhs = lhs - rhs }

    /// The time from `rhs` to `lhs` (negative if `rhs` is later).
    @inlinable
    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    /// Raw boundary: `self` moved by `ns` nanoseconds (for drivers; the core adds a `Duration`).
    @inlinable
    package func advanced(byNanoseconds ns: Int64) -> Instant { Instant(nanoseconds: nanoseconds &+ ns) }

    /// Raw boundary: elapsed nanoseconds from `earlier` to `self` (negative if `earlier` is
    /// later; for drivers, the core subtracts instants).
    @inlinable
    package func nanoseconds(since earlier: Instant) -> Int64 { nanoseconds &- earlier.nanoseconds }

    /// The index of the window of `length` that holds `self`, counted from the origin
    /// (truncated toward zero): instants in one window share it.
    @inlinable
    package func window(of length: Duration) -> Int64 { nanoseconds / length.nanosecondsInt64 }

    public var milliseconds: Double { Double(nanoseconds) / 1_000_000 }

    public var description: String { "\(milliseconds)ms" }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for reports).
    package var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds (truncated toward zero; saturating for absurdly large
    /// values). The raw boundary: drivers, the wire and NIO's `TimeAmount` take nanoseconds.
    @inlinable
    package var nanosecondsInt64: Int64 {
        let (seconds, attoseconds) = components
        let (mul, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return mul &+ attoseconds / 1_000_000_000
    }

    /// Its whole nanoseconds in seconds: `Double(nanoseconds) / 1e9` (round trips, rates).
    @inlinable
    package var inSeconds: Double { Double(nanosecondsInt64) / 1e9 }

    /// What accrues over it at `rate` a second: `rate · nanoseconds / 1e9`, in that order (token
    /// buckets refill by it).
    @inlinable
    package func accrued(perSecond rate: Double) -> Double { rate * Double(nanosecondsInt64) / 1e9 }

    /// Its whole milliseconds, truncated toward zero (what the wire carries for timeouts).
    @inlinable
    package var wholeMilliseconds: Int64 { nanosecondsInt64 / 1_000_000 }

    /// `self · factor` in whole nanoseconds: `Int64(Double(nanoseconds) · factor)`, truncated
    /// toward zero (fractions of a setting, such as a lease or a helper's share of a timeout).
    @inlinable
    package func scaled(by factor: Double) -> Duration {
        .nanoseconds(Int64(Double(nanosecondsInt64) * factor))
    }

    /// `self · factor · other` in whole nanoseconds: `Int64(Double(nanoseconds) · factor · other)`,
    /// multiplied in that order and truncated toward zero (the simulator's jitter: a link's
    /// latency times the jitter fraction times a random draw).
    @inlinable
    public func scaled(by factor: Double, _ other: Double) -> Duration {
        .nanoseconds(Int64(Double(nanosecondsInt64) * factor * other))
    }

    /// Its whole nanoseconds in milliseconds: `Double(nanoseconds) / 1e6` (reports).
    @inlinable
    public var inMilliseconds: Double { Double(nanosecondsInt64) / 1e6 }

    /// Its whole seconds, truncated toward zero.
    @inlinable
    public var wholeSeconds: Int64 { nanosecondsInt64 / 1_000_000_000 }

    /// `seconds` in whole nanoseconds, truncated toward zero: `Int64(seconds · 1e9)` (not
    /// `Duration.seconds(_:)`, which keeps the fraction of a nanosecond and rounds otherwise).
    @inlinable
    public static func seconds(truncating seconds: Double) -> Duration { .nanoseconds(Int64(seconds * 1e9)) }

    /// `seconds` in whole nanoseconds, rounded to the nearest: `Int64((seconds · 1e9).rounded())`.
    @inlinable
    public static func seconds(rounding seconds: Double) -> Duration {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }

    /// `milliseconds` in whole nanoseconds, rounded to the nearest:
    /// `Int64((milliseconds · 1e6).rounded())`.
    @inlinable
    public static func milliseconds(rounding milliseconds: Double) -> Duration {
        .nanoseconds(Int64((milliseconds * 1e6).rounded()))
    }
}

extension Xoshiro256 {
    /// A uniform whole number of nanoseconds in `[0, bound)`, at least 1 ns wide: random jitter,
    /// drawn as one integer (`below(max(1, bound in nanoseconds))`).
    @inlinable
    public mutating func duration(below bound: Duration) -> Duration {
        .nanoseconds(Int64(below(Int(max(1, bound.nanosecondsInt64)))))
    }
}
