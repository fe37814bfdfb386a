import Crypto
import Foundation

/// The X25519 key pair that goes with an Ed25519 identity (RFC 7748 §4.1's birational map, as
/// libsodium's `crypto_sign_ed25519_pk_to_curve25519`): every member can agree a key with every
/// other from the Ed25519 public keys the swarm already knows, with no extra key to distribute
/// and no handshake.
///
/// - The private scalar is the Ed25519 one: the first half of SHA-512 of the seed (X25519
///   clamps it as Ed25519 does).
/// - The public u-coordinate is `(1 + y) / (1 − y)` mod 2^255 − 19, where `y` is the Ed25519
///   point's coordinate (its encoding without the sign bit).
///
/// Using one key pair for Ed25519 signatures and X25519 agreement is the joint use analysed by
/// Thormarker (2021) and shipped by libsodium and Signal's XEdDSA.
package enum MontgomeryKey {
    /// The X25519 private key of an Ed25519 identity.
    package static func privateKey(of identity: Curve25519.Signing.PrivateKey) -> Curve25519.KeyAgreement.PrivateKey {
        let digest = Array(SHA512.hash(data: identity.rawRepresentation))
        // 32 bytes always make a key (X25519 clamps them).
        return try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: digest[0..<32])
    }

    /// The X25519 public key of an Ed25519 public key; nil for a malformed key (not 32 bytes, a
    /// non-canonical `y`, or `y = 1`, the neutral point, which would agree a known key).
    package static func publicKey(ofEdwards key: [UInt8]) -> [UInt8]? {
        guard key.count == 32 else { return nil }
        var yBytes = key
        yBytes[31] &= 0x7F
        let y = Field25519(littleEndian: yBytes)
        guard y.isCanonical, y != .one else { return nil }
        let u = (Field25519.one + y) * (Field25519.one - y).inverse
        return u.canonical.littleEndianBytes
    }
}

/// An integer modulo p = 2^255 − 19 in four 64-bit limbs (least significant first). Values are
/// kept below 2^256 between operations and reduced below p by `canonical`. Only what the map
/// above needs: it runs once per peer (keys are cached), so clarity beats speed here.
struct Field25519: Equatable {
    var limbs: (UInt64, UInt64, UInt64, UInt64)

    static let p = Field25519(limbs: (0xFFFF_FFFF_FFFF_FFED, .max, .max, 0x7FFF_FFFF_FFFF_FFFF))
    static let one = Field25519(limbs: (1, 0, 0, 0))

    init(limbs: (UInt64, UInt64, UInt64, UInt64)) { self.limbs = limbs }

    init(littleEndian bytes: [UInt8]) {
        func limb(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in (0..<8).reversed() { v = v << 8 | UInt64(bytes[i * 8 + k]) }
            return v
        }
        limbs = (limb(0), limb(1), limb(2), limb(3))
    }

    var array: [UInt64] { [limbs.0, limbs.1, limbs.2, limbs.3] }
    init(_ a: [UInt64]) { limbs = (a[0], a[1], a[2], a[3]) }

    var littleEndianBytes: [UInt8] {
        array.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    }

    static func == (a: Field25519, b: Field25519) -> Bool { a.array == b.array }

    /// Below p.
    var isCanonical: Bool { !Self.atLeast(array, Self.p.array) }

    /// The same residue, below p.
    var canonical: Field25519 {
        var a = array
        while Self.atLeast(a, Self.p.array) { a = Self.subtract(a, Self.p.array).difference }
        return Field25519(a)
    }

    static func atLeast(_ a: [UInt64], _ b: [UInt64]) -> Bool {
        for i in (0..<4).reversed() where a[i] != b[i] { return a[i] > b[i] }
        return true
    }

    static func subtract(_ a: [UInt64], _ b: [UInt64]) -> (difference: [UInt64], borrow: Bool) {
        var out = [UInt64](repeating: 0, count: 4)
        var borrow = false
        for i in 0..<4 {
            let (d1, o1) = a[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow ? 1 : 0)
            out[i] = d2
            borrow = o1 || o2
        }
        return (out, borrow)
    }

    /// `t` (up to 8 limbs) folded below 2^256, using 2^256 ≡ 38 (mod p).
    static func reduce(_ t: [UInt64]) -> Field25519 {
        var r = Array(t[0..<4])
        var carry: UInt64 = 0
        for i in 0..<4 {
            let (hi, lo) = (i + 4 < t.count ? t[i + 4] : 0).multipliedFullWidth(by: 38)
            let (s1, o1) = r[i].addingReportingOverflow(lo)
            let (s2, o2) = s1.addingReportingOverflow(carry)
            r[i] = s2
            carry = hi &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
        }
        // carry·2^256 ≡ carry·38; adding it can overflow 2^256 once, leaving a small value.
        var add = carry &* 38
        for i in 0..<4 {
            let (s, o) = r[i].addingReportingOverflow(add)
            r[i] = s
            add = o ? 1 : 0
        }
        if add == 1 { r[0] &+= 38 }
        return Field25519(r)
    }

    static func + (a: Field25519, b: Field25519) -> Field25519 {
        var t = [UInt64](repeating: 0, count: 5)
        var carry = false
        let x = a.array
        let y = b.array
        for i in 0..<4 {
            let (s1, o1) = x[i].addingReportingOverflow(y[i])
            let (s2, o2) = s1.addingReportingOverflow(carry ? 1 : 0)
            t[i] = s2
            carry = o1 || o2
        }
        t[4] = carry ? 1 : 0
        return reduce(t)
    }

    /// a − b for canonical operands (a + p − b, reduced).
    static func - (a: Field25519, b: Field25519) -> Field25519 {
        let (d, borrow) = subtract(a.canonical.array, b.canonical.array)
        guard borrow else { return Field25519(d) }
        // Wrapped by 2^256: add p back, which wraps again to the true residue.
        var out = d
        var carry = false
        let p = Self.p.array
        for i in 0..<4 {
            let (s1, o1) = out[i].addingReportingOverflow(p[i])
            let (s2, o2) = s1.addingReportingOverflow(carry ? 1 : 0)
            out[i] = s2
            carry = o1 || o2
        }
        return Field25519(out)
    }

    static func * (a: Field25519, b: Field25519) -> Field25519 {
        let x = a.array
        let y = b.array
        var t = [UInt64](repeating: 0, count: 8)
        for i in 0..<4 {
            var carry: UInt64 = 0
            for j in 0..<4 {
                let (hi, lo) = x[i].multipliedFullWidth(by: y[j])
                let (s1, o1) = t[i + j].addingReportingOverflow(lo)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                t[i + j] = s2
                // t + lo + carry + hi·2^64 < 2^128, so the carry fits.
                carry = hi &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            t[i + 4] = carry
        }
        return reduce(t)
    }

    /// a^(p−2) = a⁻¹ (Fermat); 0 for 0.
    var inverse: Field25519 {
        // p − 2 = 2^255 − 21: bits from the top.
        let e = Self.subtract(Self.p.array, [2, 0, 0, 0]).difference
        var result = Field25519.one
        for i in (0..<4).reversed() {
            for bit in (0..<64).reversed() {
                result = result * result
                if e[i] >> UInt64(bit) & 1 == 1 { result = result * self }
            }
        }
        return result
    }
}
