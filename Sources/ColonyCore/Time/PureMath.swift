/// Logarithms in pure Swift, so the core needs neither Foundation nor libc: results are the
/// same on every platform the core runs on, which keeps simulations reproducible.
package enum PureMath {
    /// Natural logarithm for x > 0.
    public static func ln(_ x: Double) -> Double {
        precondition(x > 0, "ln of a non-positive number")
        // x = s · 2^e with s in [1, 2): ln x = e·ln2 + ln s, ln s = 2·atanh((s-1)/(s+1)).
        let e = Double(x.exponent)
        let s = x.significand
        let y = (s - 1) / (s + 1)
        let y2 = y * y
        var term = y
        var sum = 0.0
        var k = 1.0
        for _ in 0..<40 {
            sum += term / k
            term *= y2
            k += 2
            if term < 1e-18 { break }
        }
        return e * 0.693_147_180_559_945_3 + 2 * sum
    }

    public static func log10(_ x: Double) -> Double { ln(x) / 2.302_585_092_994_045_7 }

    /// ⌈log10(n)⌉ for n ≥ 1, exactly, in integers.
    public static func ceilLog10(_ n: Int) -> Int {
        precondition(n >= 1)
        var digits = 0
        var power = 1
        while power < n {
            power = power &* 10
            digits += 1
        }
        return digits
    }

    /// ⌈log2(n)⌉ for n ≥ 1.
    public static func ceilLog2(_ n: Int) -> Int {
        precondition(n >= 1)
        return n == 1 ? 0 : (Int.bitWidth - (n - 1).leadingZeroBitCount)
    }
}
