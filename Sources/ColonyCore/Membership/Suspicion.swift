/// Lifeguard's dynamic suspicion timeout (Lifeguard §IV.B, memberlist `suspicion.go`).
///
/// A suspicion starts at `max = β·min` and shrinks toward `min` logarithmically as
/// independent confirmations arrive: `timeout = max − (max − min)·log(c+1)/log(k+1)`, where
/// `c` counts distinct confirming members (the originator excluded) and `k` is how many we
/// expect. With no confirmations expected (`k < 1`) the timeout is `min` at once.
package struct Suspicion: Sendable, Equatable {
    public let incarnation: UInt64
    public let startedAt: Instant
    public let minimumTimeout: Duration
    public let maximumTimeout: Duration
    public let expectedConfirmations: Int
    /// Members whose suspicion we counted (bounded by `expectedConfirmations + 1`).
    public private(set) var confirmers: [NodeID]
    public private(set) var confirmations: Int

    public init(
        incarnation: UInt64, from: NodeID, startedAt: Instant, minimumTimeout: Duration, maximumTimeout: Duration,
        expectedConfirmations: Int
    ) {
        self.incarnation = incarnation
        self.startedAt = startedAt
        self.minimumTimeout = minimumTimeout
        self.maximumTimeout = maximumTimeout
        self.expectedConfirmations = expectedConfirmations
        self.confirmers = [from]
        self.confirmations = 0
    }

    /// Total timeout from `startedAt` given the confirmations so far, floored to the
    /// millisecond (computed in `Double` on whole nanoseconds, as memberlist does).
    public var timeout: Duration {
        let k = expectedConfirmations
        if k < 1 { return minimumTimeout }
        let frac = PureMath.ln(Double(confirmations) + 1) / PureMath.ln(Double(k) + 1)
        let longest = Double(maximumTimeout.nanosecondsInt64)
        let range = Double((maximumTimeout - minimumTimeout).nanosecondsInt64)
        let raw = longest - frac * range
        let floored = Duration.milliseconds(Int64((raw / 1_000_000).rounded(.down)))
        return max(minimumTimeout, floored)
    }

    public var deadline: Instant { startedAt + timeout }

    /// Counts `from` if it is new; returns true if the timeout shrank (worth re-gossiping).
    public mutating func confirm(from: NodeID) -> Bool {
        guard confirmations < expectedConfirmations else { return false }
        guard !confirmers.contains(from) else { return false }
        confirmers.append(from)
        confirmations += 1
        return true
    }
}

/// Lifeguard's local health multiplier (Lifeguard §IV.A, memberlist `awareness.go`): a node
/// that misses nacks or has to refute its own suspicion is probably the slow one, so it
/// slows its probing down and waits longer before blaming others.
package struct Awareness: Sendable, Equatable {
    public let max: Int
    public private(set) var score: Int = 0

    public init(max: Int) { self.max = max }

    public mutating func apply(_ delta: Int) {
        score = Swift.min(Swift.max(0, score + delta), max)
    }

    /// `base · (score + 1)`.
    public func scale(_ base: Duration) -> Duration { base * (score + 1) }
}
