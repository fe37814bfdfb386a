import ColonyCore

/// TCP under loss (issue 17): a stream is reliable, but not prompt. The real runs showed it:
/// a connect whose SYN or SYN-ACK is lost waits for the kernel's retransmission (Linux: 1 s,
/// then 2 s, then 4 s more) and the driver gives up after its connect timeout; a lost data
/// segment waits at least a retransmission timeout (200 ms, doubling), and everything behind
/// it on the connection waits too (head-of-line blocking). Modelled only when the network
/// loses datagrams: a lossless network keeps the prompt streams (and the traces) it had.
struct StreamModel {
    /// The driver's connect timeout (`min(streamTimeout, 5 s)`).
    static let connectTimeoutNs: Int64 = 5_000_000_000
    /// Linux's SYN retransmission times, after the first attempt.
    static let synRetries: [Int64] = [1_000_000_000, 3_000_000_000, 7_000_000_000]
    /// The minimum retransmission timeout for a lost segment.
    static let minRTONs: Int64 = 200_000_000
    /// An idle connection is closed after this (the driver's idle timeout): the next frame
    /// connects again.
    static let idleNs: Int64 = 30_000_000_000
    /// Payload bytes per segment.
    static let segmentBytes = 1_448
    /// Retransmissions of one segment before the connection is given up (Linux's
    /// `tcp_retries2`); the frame is then lost, as when the kernel resets the connection.
    static let maxRetransmissions = 15

    /// Per directed pair (`from << 32 | to`): until when the connection stays open, and when
    /// the last frame on it arrives (frames behind it wait for it).
    var openUntil: [UInt64: Int64] = [:]
    var busyUntil: [UInt64: Int64] = [:]

    /// When a frame of `bytes` sent at `now` from `from` to `to` arrives, or nil if the
    /// connect times out or a segment is retransmitted too often. `latency` is one way;
    /// `loss` per packet from `from` to `to`, `reverseLoss` the other way (one-way loss:
    /// a SYN gets through while its SYN-ACK does not).
    mutating func arrival(
        from: Int, to: Int, bytes: Int, now: Int64, latency: Int64, loss: Double, reverseLoss: Double,
        rng: inout Xoshiro256
    ) -> Int64? {
        let key = UInt64(from) << 32 | UInt64(to)
        var t = now
        if (openUntil[key] ?? -1) < now {
            // Connect: SYN and SYN-ACK must both get through, retried on the kernel's schedule.
            var attempt = 0
            while rng.chance(loss) || rng.chance(reverseLoss) {
                guard attempt < Self.synRetries.count, Self.synRetries[attempt] < Self.connectTimeoutNs else {
                    return nil
                }
                attempt += 1
            }
            t += (attempt == 0 ? 0 : Self.synRetries[attempt - 1]) + 2 * latency
        }
        // In order behind what is already on the connection.
        t = max(t, busyUntil[key] ?? t)
        var rto = max(Self.minRTONs, 4 * latency)
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
                rto = min(2 * rto, 60_000_000_000)
            }
        }
        t += latency
        busyUntil[key] = t
        openUntil[key] = t + Self.idleNs
        return t
    }
}
