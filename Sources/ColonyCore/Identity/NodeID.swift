/// A node's identity: 128 bits. The real driver derives it from the node's Ed25519 public key
/// (the trust issue); the simulator derives it from the run seed.
///
/// Hashing is deterministic on purpose: the member table is a `TreeDictionary`, whose layout
/// and iteration order follow the keys' hashes, and a simulation must replay identically in
/// every process. Swift's default hashing is seeded per process, so `NodeID` supplies its own
/// `_rawHashValue(seed:)`, which hashed collections use (the ids are uniformly random bits, so
/// a keyed mix of them loses nothing).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    @inlinable
    public static func == (lhs: NodeID, rhs: NodeID) -> Bool { lhs.low == rhs.low && lhs.high == rhs.high }

    @inlinable
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }

    /// A well-mixed 64-bit digest of the id, stable across processes and platforms.
    @inlinable
    public var stableHash: UInt64 { SplitMix64.mix(low ^ SplitMix64.mix(high)) }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(high)
        hasher.combine(low)
    }

    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: SplitMix64.mix(stableHash ^ UInt64(truncatingIfNeeded: seed)))
    }

    /// Parses the 32-hex-digit form that `description` prints.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32,
            let high = UInt64(String(decoding: digits[0..<16], as: UTF8.self), radix: 16),
            let low = UInt64(String(decoding: digits[16..<32], as: UTF8.self), radix: 16)
        else { return nil }
        self.init(high: high, low: low)
    }

    /// The id as 16 big-endian bytes (high, then low): how keys and digests name it.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        for v in [high, low] {
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        }
        return out
    }

    /// The id named by the first 16 bytes, big-endian; nil if there are fewer.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count >= 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (i, b) in bytes.prefix(16).enumerated() {
            if i < 8 { high = high << 8 | UInt64(b) } else { low = low << 8 | UInt64(b) }
        }
        self.init(high: high, low: low)
    }

    /// Short hex form, as logs show it.
    public var description: String {
        String(format16: high) + String(format16: low)
    }
}

extension String {
    init(format16 value: UInt64) {
        let hex = String(value, radix: 16)
        self = String(repeating: "0", count: Swift.max(0, 16 - hex.count)) + hex
    }
}
