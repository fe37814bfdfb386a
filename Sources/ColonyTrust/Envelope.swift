import ColonyCore
import Crypto
import Foundation
import HeapModule

/// A sealed packet or stream frame (docs/design.md §6):
///
///     marker u8 (`WireNamespace.sealed`) | sent-at ms u64 | nonce 12B | AES-256-GCM ciphertext | tag 16B
///
/// The marker and the time are authenticated (associated data) but not secret. Plain packets
/// start with the wire version (`WireNamespace.protocolV1`), so a receiver tells the two apart
/// by the first byte (`WireNamespace(first:)`). The time lets a receiver refuse stale packets,
/// and the nonce, kept in a `ReplayGuard` for as long as the time is acceptable, refuses a
/// packet seen before.
package enum Envelope {
    /// The first byte of a sealed packet.
    public static let marker: UInt8 = WireNamespace.sealed.rawValue
    public static let headerBytes = 1 + 8 + 12
    public static let tagBytes = 16
    /// What sealing adds to a packet.
    public static let overhead = headerBytes + tagBytes

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notSealed
        case truncated(Int)
        /// No installed key opens it (wrong key, or altered in flight).
        case noKeyOpens
        /// Its time is outside the replay window (clock skew, or an old packet replayed).
        case stale(skewMs: Int64)
        /// Seen before.
        case replayed

        public var description: String {
            switch self {
            case .notSealed: "not a sealed packet"
            case .truncated(let n): "sealed packet of \(n) bytes is shorter than the envelope"
            case .noKeyOpens: "no installed key opens the packet"
            case .stale(let skew): "packet time is \(skew) ms from ours, outside the replay window"
            case .replayed: "packet replayed (nonce seen before)"
            }
        }

        /// A short label for counters and metrics.
        public var reason: String {
            switch self {
            case .notSealed: "not_sealed"
            case .truncated: "truncated"
            case .noKeyOpens: "unsealable"
            case .stale: "stale"
            case .replayed: "replayed"
            }
        }
    }

    public static func isSealed(_ bytes: [UInt8]) -> Bool { WireNamespace(first: bytes) == .sealed }

    /// Seal `plain` under `key` at wall time `sentAtMs` with a fresh random nonce.
    public static func seal(_ plain: [UInt8], key: [UInt8], sentAtMs: UInt64) -> [UInt8] {
        seal(plain, key: key, sentAtMs: sentAtMs, nonce: Array(AES.GCM.Nonce()))
    }

    /// Seal with a given 12-byte nonce (tests and benchmarks; never reuse a nonce with a key).
    public static func seal(_ plain: [UInt8], key: [UInt8], sentAtMs: UInt64, nonce: [UInt8]) -> [UInt8] {
        var header: [UInt8] = [marker]
        header.reserveCapacity(overhead + plain.count)
        withUnsafeBytes(of: sentAtMs.bigEndian) { header.append(contentsOf: $0) }
        let aad = header
        header.append(contentsOf: nonce)
        // A 12-byte nonce and a 32-byte key cannot fail.
        let box = try! AES.GCM.seal(
            plain, using: SymmetricKey(data: key), nonce: AES.GCM.Nonce(data: nonce), authenticating: aad)
        header.append(contentsOf: box.ciphertext)
        header.append(contentsOf: box.tag)
        return header
    }

    /// What `open` found: the plain bytes, when the sender sealed them and with which key.
    public struct Opened: Sendable {
        public var plain: [UInt8]
        public var sentAtMs: UInt64
        public var nonce: Nonce
        /// Index in the keyring of the key that opened it (0: the primary).
        public var keyIndex: Int
    }

    /// Open with any of `keys` (primary first). Does not check time or replay: see `ReplayGuard`.
    public static func open(_ sealed: [UInt8], keys: [[UInt8]]) throws(Failure) -> Opened {
        guard WireNamespace(first: sealed) == .sealed else { throw .notSealed }
        guard sealed.count >= overhead else { throw .truncated(sealed.count) }
        var sentAt: UInt64 = 0
        for i in 1..<9 { sentAt = sentAt << 8 | UInt64(sealed[i]) }
        let nonceBytes = sealed[9..<headerBytes]
        let body = sealed[headerBytes..<(sealed.count - tagBytes)]
        let tag = sealed[(sealed.count - tagBytes)...]
        guard let nonce = try? AES.GCM.Nonce(data: nonceBytes),
            let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: body, tag: tag)
        else { throw .truncated(sealed.count) }
        let aad = sealed[0..<9]
        for (i, key) in keys.enumerated() {
            if let plain = try? AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: aad) {
                return Opened(plain: [UInt8](plain), sentAtMs: sentAt, nonce: Nonce(nonceBytes), keyIndex: i)
            }
        }
        throw .noKeyOpens
    }

    /// A 96-bit nonce as a hashable value.
    public struct Nonce: Hashable, Sendable {
        public let high: UInt64
        public let low: UInt32

        public init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
            var h: UInt64 = 0
            var l: UInt32 = 0
            for (i, b) in bytes.prefix(12).enumerated() {
                if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt32(b) }
            }
            high = h
            low = l
        }
    }
}

/// Refuses sealed packets whose time is outside `window` of ours, and any nonce seen within
/// it. Memory is bounded by `capacity`: when it is full, the nonce with the oldest time is
/// forgotten and every packet no newer than it is refused from then on, so a forgotten nonce
/// still cannot be replayed. Evicting by time (not arrival) keeps the floor at the oldest
/// time held, so a peer whose clock runs ahead cannot push it past honest packets.
package struct ReplayGuard: Sendable {
    public let windowMs: UInt64
    public let capacity: Int
    struct Entry: Comparable, Sendable {
        var at: UInt64
        var nonce: Envelope.Nonce
        static func < (a: Entry, b: Entry) -> Bool {
            a.at != b.at ? a.at < b.at : (a.nonce.high, a.nonce.low) < (b.nonce.high, b.nonce.low)
        }
    }
    var seen: Set<Envelope.Nonce> = []
    var order = Heap<Entry>()
    /// Packets at or before this time are refused (raised when the cache overflows).
    public private(set) var floorMs: UInt64 = 0

    public init(windowMs: UInt64 = 60_000, capacity: Int = 1 << 18) {
        self.windowMs = windowMs
        self.capacity = max(1, capacity)
    }

    public var count: Int { seen.count }

    /// Admit a packet sent at `sentAtMs` with `nonce`, as seen at local wall time `nowMs`.
    public mutating func admit(sentAtMs: UInt64, nonce: Envelope.Nonce, nowMs: UInt64) throws(Envelope.Failure) {
        let skew = Int64(bitPattern: sentAtMs &- nowMs)
        guard skew.magnitude <= windowMs else { throw .stale(skewMs: skew) }
        guard sentAtMs > floorMs else { throw .replayed }
        // Forget nonces whose time has left the window: a replay of them is now stale.
        let oldest = nowMs > windowMs ? nowMs - windowMs : 0
        while let first = order.min, first.at < oldest {
            order.removeMin()
            seen.remove(first.nonce)
        }
        guard seen.insert(nonce).inserted else { throw .replayed }
        order.insert(Entry(at: sentAtMs, nonce: nonce))
        while order.count > capacity {
            let evicted = order.removeMin()
            seen.remove(evicted.nonce)
            floorMs = max(floorMs, evicted.at)
        }
    }
}
