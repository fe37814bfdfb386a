import Testing

@testable import ColonyCore

/// Typed time: `Instant` and `Duration` give exactly what the Int64-nanosecond arithmetic they
/// replaced gave (a seed's replay depends on every rounding and every draw).
@Suite(.tags(.time)) struct TimeTests {
    static let samples: [Int64] = [
        0, 1, 2, 3, 7, 999_999, 1_000_001, 123_456_789, 1_500_000_001, 86_400_000_000_017,
    ]

    @Test func instantsSubtractToDurationsAndMoveByThem() {
        let a = Instant(nanoseconds: 5_000_000_007)
        let b = Instant(nanoseconds: 2_000_000_003)
        #expect(a - b == .nanoseconds(3_000_000_004))
        #expect(b - a == .nanoseconds(-3_000_000_004))
        #expect(b + (a - b) == a)
        #expect(a - (a - b) == b)
        var c = b
        c += .milliseconds(3)
        #expect(c == b.advanced(byNanoseconds: 3_000_000))
        c -= .milliseconds(3)
        #expect(c == b)
        #expect((a - b).nanosecondsInt64 == a.nanoseconds(since: b))
    }

    @Test(arguments: samples) func fractionsTruncateAsIntegerNanosecondsDid(ns: Int64) {
        let d = Duration.nanoseconds(ns)
        for k in [2, 3, 4, 20] {
            let truncated = ns / Int64(k)
            #expect((d / k).nanosecondsInt64 == truncated)
            #expect((Instant.zero + d / k).nanoseconds == truncated)
            #expect((Instant.zero - d / k).nanoseconds == -truncated)
            #expect((Instant.zero + d / k + .nanoseconds(5)).nanoseconds == truncated + 5)
            // A whole elapsed time against a fraction: `>` and `<=` agree with the truncation.
            for e in [truncated - 1, truncated, truncated + 1] {
                #expect((Duration.nanoseconds(e) > d / k) == (e > truncated))
                #expect((Duration.nanoseconds(e) <= d / k) == (e <= truncated))
            }
        }
        #expect(d.inSeconds == Double(ns) / 1e9)
        #expect(d.wholeMilliseconds == ns / 1_000_000)
        #expect(d.scaled(by: 0.9).nanosecondsInt64 == Int64(Double(ns) * 0.9))
        #expect(d.scaled(by: 0.8) == .nanoseconds(Int64(Double(ns) * 0.8)))
        #expect(d.accrued(perSecond: 400) == 400 * Double(ns) / 1e9)
        #expect(Instant(nanoseconds: ns).window(of: .milliseconds(100)) == ns / 100_000_000)
    }

    @Test(arguments: samples) func theSimulatorsConversionsKeepItsIntegerArithmetic(ns: Int64) {
        let d = Duration.nanoseconds(ns)
        #expect(d.inMilliseconds == Double(ns) / 1e6)
        #expect(d.inMilliseconds == Instant(nanoseconds: ns).milliseconds)
        #expect(d.wholeSeconds == ns / 1_000_000_000)
        for (a, b) in [(0.2, 0.73), (5.0, 0.999_999), (1.0, 0.5), (0.1, 0.3)] {
            // Multiplied left to right, as `Double(latency) * jitter * unit` was.
            #expect(d.scaled(by: a, b) == .nanoseconds(Int64(Double(ns) * a * b)))
        }
    }

    @Test func secondsAndMillisecondsFromFlagsTruncateOrRoundAsBefore() {
        for s in [0.0, 0.3, 1.5, 12.3, 20.7, 60, 0.123_456_789_9, 1e-10, 999_999.999_999_9] {
            #expect(Duration.seconds(truncating: s) == .nanoseconds(Int64(s * 1e9)))
            #expect(Duration.seconds(rounding: s) == .nanoseconds(Int64((s * 1e9).rounded())))
            #expect(Duration.milliseconds(rounding: s) == .nanoseconds(Int64((s * 1e6).rounded())))
        }
        // Where the two differ: 0.3 · 3 is 0.899 999 999 999 999 9 in binary.
        #expect(Duration.seconds(truncating: 0.3 * 3) != Duration.seconds(rounding: 0.3 * 3))
    }

    @Test func jitterDrawsTheSameIntegerAsBefore() {
        for bound in [Duration.zero, .nanoseconds(1), .milliseconds(25), .seconds(30)] {
            var a = Xoshiro256(seed: 7)
            var b = Xoshiro256(seed: 7)
            for _ in 0..<100 {
                let old = Int64(b.below(Int(max(1, bound.nanosecondsInt64))))
                #expect(a.duration(below: bound) == .nanoseconds(old))
            }
        }
    }

    @Test func joinRetriesDoubleUpToTheirCap() {
        let s = Settings.lan
        #expect(s.joinRetryDelay(afterAttempt: 1) == .seconds(1))
        #expect(s.joinRetryDelay(afterAttempt: 2) == .seconds(2))
        #expect(s.joinRetryDelay(afterAttempt: 5) == .seconds(16))
        #expect(s.joinRetryDelay(afterAttempt: 6) == .seconds(30))
        #expect(s.joinRetryDelay(afterAttempt: 40) == .seconds(30))
    }

    @Test func theLeaseIsAFractionOfTheMinimumElectionTimeout() {
        var h = HiveSettings()
        #expect(h.lease == .milliseconds(135))
        h.electionTimeoutMin = .nanoseconds(1_000_000_007)
        #expect(h.lease == .nanoseconds(Int64(Double(1_000_000_007) * 0.9)))
    }
}
