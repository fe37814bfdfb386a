import ColonyCore

/// TCP under loss (issue 17): a stream is reliable, but not prompt. The real runs showed it:
/// a connect whose SYN or SYN-ACK is lost waits for the kernel's retransmission (Linux: 1 s,
/// then 2 s, then 4 s more) and the driver gives up after its connect timeout; a lost data
/// segment waits at least a retransmission timeout (200 ms, doubling), and everything behind
/// it on the connection waits too (head-of-line blocking). Modelled only when the network
/// loses datagrams: a lossless network keeps the prompt streams (and the traces) it had.
struct StreamModel {
    /// The driver's connect timeout (`min(streamTimeout, 5 s)`).
    static let connectTimeout: Duration = .seconds(5)
    /// Linux's SYN retransmission times, after the first attempt.
    static let synRetries: [Duration] = [.seconds(1), .seconds(3), .seconds(7)]
    /// The minimum retransmission timeout for a lost segment, and the most it doubles to.
    static let minRTO: Duration = .milliseconds(200)
    static let maxRTO: Duration = .seconds(60)
    /// An idle connection is closed after this (the driver's idle timeout): the next frame
    /// connects again.
    static let idle: Duration = .seconds(30)
    /// Payload bytes per segment.
    static let segmentBytes = 1_448
    /// Retransmissions of one segment before the connection is given up (Linux's
    /// `tcp_retries2`); the frame is then lost, as when the kernel resets the connection.
    static let maxRetransmissions = 15

    /// Per directed pair (`from << 32 | to`): until when the connection stays open, and when
    /// the last frame on it arrives (frames behind it wait for it).
    var openUntil: [UInt64: Instant] = [:]
    var busyUntil: [UInt64: Instant] = [:]

    /// When a frame of `bytes` sent at `now` from `from` to `to` arrives, or nil if the
    /// connect times out or a segment is retransmitted too often. `latency` is one way;
    /// `loss` per packet from `from` to `to`, `reverseLoss` the other way (one-way loss:
    /// a SYN gets through while its SYN-ACK does not).
    mutating func arrival(
        from: Int, to: Int, bytes: Int, now: Instant, latency: Duration, loss: Double, reverseLoss: Double,
        rng: inout Xoshiro256
    ) -> Instant? {
        let key = UInt64(from) << 32 | UInt64(to)
        var t = now
        if openUntil[key].map({ $0 < now }) ?? true {
            // Connect: SYN and SYN-ACK must both get through, retried on the kernel's schedule.
            var attempt = 0
            while rng.chance(loss) || rng.chance(reverseLoss) {
                guard attempt < Self.synRetries.count, Self.synRetries[attempt] < Self.connectTimeout else {
                    return nil
                }
                attempt += 1
            }
            t += (attempt == 0 ? .zero : Self.synRetries[attempt - 1]) + latency * 2
        }
        // In order behind what is already on the connection.
        t = max(t, busyUntil[key] ?? t)
        var rto = max(Self.minRTO, latency * 4)
        let segments = max(1, (bytes + Self.segmentBytes - 1) / Self.segmentBytes)
        for _ in 0..<min(segments, 64) {
            // A lost segment costs one retransmission timeout, doubling.
            var retransmissions = 0
            while rng.chance(loss) {
                retransmissions += 1
                if retransmissions > Self.maxRetransmissions {
                    openUntil[key] = nil
                    busyUntil[key] = nil
                    return nil
                }
                t += rto
                rto = min(rto * 2, Self.maxRTO)
            }
        }
        t += latency
        busyUntil[key] = t
        openUntil[key] = t + Self.idle
        return t
    }
}
