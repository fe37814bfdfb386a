/// Randomised round-robin (SWIM §4.3): each round visits every position of the member table
/// once, in a fresh random order, so every member is probed within a bounded time.
///
/// The order is a seeded permutation computed on demand, not a stored shuffled array: an
/// affine map `i ↦ (a·i + b) mod n` with `gcd(a, n) = 1` is a bijection on `0..<n`, so a
/// node keeps O(1) state however large the swarm. When `n` changes mid-round the round ends
/// early and a new one starts; new members are thereby reached within one round, as
/// memberlist's random insertion does.
package struct ProbeOrder: Sendable {
    private var n = 0
    private var a = 1
    private var b = 0
    private var i = 0

    public init() {}

    /// The next table position to probe, for a table of `count` entries.
    public mutating func next(count: Int, rng: inout Xoshiro256) -> Int {
        precondition(count > 0)
        if count != n || i >= n { reshuffle(count: count, rng: &rng) }
        let position = Int((UInt64(a) &* UInt64(i) &+ UInt64(b)) % UInt64(n))
        i += 1
        return position
    }

    private mutating func reshuffle(count: Int, rng: inout Xoshiro256) {
        n = count
        i = 0
        b = rng.below(count)
        if count <= 2 {
            a = 1
            return
        }
        // A multiplier coprime with n, not 1 (bounded search; 1 is always coprime).
        for _ in 0..<16 {
            let candidate = 2 + rng.below(count - 2)
            if gcd(candidate, count) == 1 {
                a = candidate
                return
            }
        }
        a = 1
    }

    private func gcd(_ x: Int, _ y: Int) -> Int {
        var (p, q) = (x, y)
        while q != 0 { (p, q) = (q, p % q) }
        return p
    }
}
