/// xoshiro256** seeded through SplitMix64: the core's only source of randomness.
///
/// The driver chooses the seed (the simulator from its run seed, the real driver from the
/// system's generator), so the core itself stays deterministic (docs/design.md §1).
package struct Xoshiro256: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s0 = sm.next()
        s1 = sm.next()
        s2 = sm.next()
        s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) <<< 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 <<< 45
        return result
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-shift with rejection).
    @inlinable
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// A uniform double in [0, 1).
    @inlinable
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Up to `count` distinct elements of `pool`, uniformly at random (partial Fisher–Yates).
    public mutating func sample<T>(_ count: Int, from pool: [T]) -> [T] {
        var pool = pool
        var picked: [T] = []
        picked.reserveCapacity(Swift.min(count, pool.count))
        while picked.count < count && !pool.isEmpty {
            let i = below(pool.count)
            picked.append(pool[i])
            pool.swapAt(i, pool.count - 1)
            pool.removeLast()
        }
        return picked
    }

    /// True with probability `p`.
    @inlinable
    public mutating func chance(_ p: Double) -> Bool { p > 0 && unit() < p }
}

/// SplitMix64: used for seeding and as a cheap, well-mixed hash of 64-bit values.
@usableFromInline package struct SplitMix64: Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finaliser: a bijective avalanche of a 64-bit value.
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

infix operator <<< : BitwiseShiftPrecedence

@inlinable
func <<< (value: UInt64, amount: UInt64) -> UInt64 { (value << amount) | (value >> (64 &- amount)) }
