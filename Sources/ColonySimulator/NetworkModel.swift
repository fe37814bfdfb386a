import ColonyCore

/// The modelled network: per-link latency from synthetic positions plus jitter, loss,
/// duplication, reordering and partitions. Streams (TCP) are reliable but slower (handshake
/// and bandwidth) and fail across partitions or to dead hosts.
public struct NetworkModel: Sendable {
    /// One-way latency floor, nanoseconds.
    public var baseLatencyNs: Int64
    /// Extra one-way latency across the whole plane (positions lie in the unit square).
    public var spanLatencyNs: Int64
    /// Jitter as a fraction of the link latency, uniformly added.
    public var jitter: Double = 0.2
    /// Probability that a datagram is lost.
    public var loss: Double = 0
    /// Probability that a datagram is delivered twice.
    public var duplicate: Double = 0
    /// Probability that a datagram is held back (up to 5× its latency), reordering it.
    public var reorder: Double = 0
    /// Stream bandwidth, bytes per microsecond (1 Gbit/s ≈ 125).
    public var streamBytesPerMicrosecond: Double = 125

    public init(baseLatencyNs: Int64, spanLatencyNs: Int64) {
        self.baseLatencyNs = baseLatencyNs
        self.spanLatencyNs = spanLatencyNs
    }

    /// One rack/datacenter: 0.1–0.5 ms one way.
    public static var lan: NetworkModel { NetworkModel(baseLatencyNs: 100_000, spanLatencyNs: 400_000) }
    /// Regions apart: 10–150 ms one way.
    public static var wan: NetworkModel { NetworkModel(baseLatencyNs: 10_000_000, spanLatencyNs: 140_000_000) }
    /// Loopback: 20–50 µs.
    public static var local: NetworkModel { NetworkModel(baseLatencyNs: 20_000, spanLatencyNs: 30_000) }

    public static func profile(named name: String) -> NetworkModel? {
        switch name {
        case "lan": .lan
        case "wan": .wan
        case "local": .local
        default: nil
        }
    }

    func linkLatency(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Int64 {
        let d = a - b
        let dist = (d.x * d.x + d.y * d.y).squareRoot() / 2.0.squareRoot()
        return baseLatencyNs + Int64(Double(spanLatencyNs) * dist)
    }
}
