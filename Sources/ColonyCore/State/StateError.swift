/// Why a write, event or query was refused. Each says what limit was hit.
public enum StateError: Error, Equatable, Sendable, CustomStringConvertible {
    case notActive
    case emptyKey
    case keyTooLong(bytes: Int, max: Int)
    case valueTooLarge(bytes: Int, max: Int)
    case nodeBudgetExceeded(used: Int, adding: Int, max: Int)
    case swarmBudgetExceeded(used: Int, adding: Int, max: Int)
    case emptyName
    /// Names starting with `_colony` belong to Colony's own queries and events.
    case reservedName(String)
    /// Not signed by this swarm's authority (or admission is off).
    case invalidRevocation
    case payloadTooLarge(bytes: Int, max: Int)
    case timeoutOutOfRange(ms: Int64, max: Int64)
    /// The write counter reached its ceiling (only a forged record could cause it).
    case counterExhausted

    public var description: String {
        switch self {
        case .notActive: "the node is not running (start it, or it has left)"
        case .emptyKey: "keys must not be empty"
        case .keyTooLong(let b, let m): "key is \(b) bytes; the limit is \(m)"
        case .valueTooLarge(let b, let m): "value is \(b) bytes; the limit is \(m)"
        case .nodeBudgetExceeded(let u, let a, let m):
            "this node's state budget is full: \(u) bytes held + \(a) > \(m) (delete keys or raise max_bytes_per_node)"
        case .swarmBudgetExceeded(let u, let a, let m):
            "the swarm's state budget is full: \(u) bytes held + \(a) > \(m) (delete keys or raise max_state_bytes)"
        case .emptyName: "names must not be empty"
        case .reservedName(let n): "the name '\(n)' is reserved (names starting with _colony are Colony's own)"
        case .invalidRevocation: "the revocation is not signed by this swarm's authority (or admission is off)"
        case .payloadTooLarge(let b, let m): "payload is \(b) bytes; the limit is \(m)"
        case .timeoutOutOfRange(let t, let m): "timeout \(t) ms is outside 1…\(m) ms"
        case .counterExhausted:
            "this node's write counter is exhausted (a forged record claimed a huge counter); "
                + "start it with a new identity"
        }
    }
}

/// Counters a peer may claim. Far beyond any real history (a node writing a million records
/// a second takes 146,000 years to get there), so anything above is forged or corrupt and is
/// ignored rather than allowed to exhaust a counter.
let maxCounter: UInt64 = 1 << 62
/// How far ahead of our Lamport time an event may claim to be.
let maxLamportJump: UInt64 = 1 << 40
/// How far ahead of our wall clock a record's hybrid time may be and still move our clock.
let maxClockDriftMs: UInt64 = 3_600_000
