/// How a node treats encryption (docs/design.md §6). A running plain swarm turns encryption on
/// in steps, as memberlist's `GossipVerifyOutgoing` / `GossipVerifyIncoming`: `open` on every
/// node (keys installed, still sending plain), then `accept` (sealing, still reading plain),
/// then `require`. ColonyTrust's `Keyring.Mode` is this type.
public enum KeyringMode: String, Sendable, CaseIterable, Codable {
    /// Sends plain packets; opens sealed and plain ones.
    case open
    /// Sends sealed packets; accepts sealed and plain ones.
    case accept
    /// Sends sealed packets; drops plain ones (the default once encrypted).
    case require

    public var seals: Bool { self != .open }
    public var acceptsPlain: Bool { self != .require }
}

/// A keyring change, as the HTTP API, the CLI and the internal query name it. Keys are raw
/// bytes; the keyring that applies the change checks them (ColonyTrust's `Keyring`).
public enum KeyringOperation: Sendable, Equatable {
    case list
    case install([UInt8])
    case use([UInt8])
    case remove([UInt8])
    case mode(KeyringMode)

    /// The internal query that carries it.
    public static let queryName = ColonyQuery.keyring.rawValue

    /// Whether the request or its answers carry keys (refused unless this node seals).
    public var carriesKeys: Bool {
        if case .mode = self { return false }
        return true
    }

    /// Whether it changes anything (all but `list`): what an operator must order.
    public var changes: Bool { self != .list }

    /// The bytes an operator's order names (`OperatorOrder.keyring`): a kind byte, then the
    /// key or the mode's name.
    public var canonicalBytes: [UInt8] {
        switch self {
        case .list: [0]
        case .install(let k): [1] + k
        case .use(let k): [2] + k
        case .remove(let k): [3] + k
        case .mode(let m): [4] + Array(m.rawValue.utf8)
        }
    }

    /// The operator's order for this operation issued at `issuedAtMs`.
    public func order(issuedAtMs: UInt64) -> OperatorOrder {
        .keyring(operation: canonicalBytes, issuedAtMs: issuedAtMs)
    }
}

/// An operator's signature of a keyring change (`OperatorOrder.keyring`) and when it was made.
public typealias KeyringOrder = TimedOrder

/// One node's keyring, as reported.
public struct KeyringState: Sendable, Equatable, Codable {
    /// Installed keys (base64, or a fingerprint when reported by a node that does not seal),
    /// primary first; empty when encryption is off.
    public var keys: [String]
    /// off, open, accept or require.
    public var mode: String

    public init(keys: [String], mode: String) {
        self.keys = keys
        self.mode = mode
    }

    public var primary: String? { keys.first }
}

/// A member's answer to the internal keyring query: its keyring after applying the change, and
/// the error if it could not.
public struct KeyringAnswer: Sendable, Equatable, Codable {
    public var state: KeyringState
    public var error: String?

    public init(state: KeyringState, error: String?) {
        self.state = state
        self.error = error
    }
}

/// A keyring change across the swarm: who answered and what their keyrings hold now (Serf's
/// `serf keys` output).
public struct KeyringSummary: Sendable, Equatable, Codable {
    /// Live members when the request went out.
    public var nodes: Int
    /// Members that answered before the deadline.
    public var responses: Int
    /// Error messages by member name.
    public var errors: [String: String]
    /// How many answering members hold each key.
    public var keys: [String: Int]
    /// How many answering members use each key as primary.
    public var primaryKeys: [String: Int]
    /// How many answering members are in each mode.
    public var modes: [String: Int]

    public init(nodes: Int) {
        self.nodes = nodes
        responses = 0
        errors = [:]
        keys = [:]
        primaryKeys = [:]
        modes = [:]
    }

    /// True if every live member answered without error.
    public var complete: Bool { responses >= nodes && errors.isEmpty }
}

/// Why this node refuses to start a swarm-wide keyring change.
package enum KeyringChangeRefusal: Error, Sendable, Equatable {
    /// The node has no keyring: it cannot seal the request.
    case noKeyring
    /// The node does not seal yet (mode open) and the change or its answers carry keys.
    case notSealing
}

/// Swarm-wide keyring changes decided without I/O, JSON or cryptography (Serf's `serf keys`,
/// docs/design.md §6). The change rides the internal query `ColonyQuery.keyring`.
///
/// - The asker: `start` checks that the change may be sent and opens a tally; each answer is
///   `record`ed into the summary; the change is done when every member live at the start has
///   answered or the query's deadline passed (`finish`).
/// - A member: applies the change (ColonyTrust's `Keyring.applying`), then `answer` builds
///   what it says back: its keys in full only if it seals, by fingerprint otherwise, since an
///   unsealed answer travels in the clear.
///
/// A driver decodes answers and encodes requests (JSON, at the edge) and applies keyrings.
package struct KeyringChangeMachine: Sendable {
    /// Tallies of the changes this node asked for and still waits on, by query counter.
    public private(set) var pending: [UInt64: KeyringSummary] = [:]

    public init() {}

    /// Whether a change may leave a node whose keyring is in `mode` (nil: no keyring). Keys
    /// must never travel in the clear: only a sealing node sends them, while a mode change
    /// carries none, so a plain swarm can step to `accept` with it.
    public static func check(_ op: KeyringOperation, mode: KeyringMode?) -> KeyringChangeRefusal? {
        guard let mode else { return .noKeyring }
        if !mode.seals, op.carriesKeys { return .notSealing }
        return nil
    }

    /// The change went out as the query with counter `query`, while `live` members were alive.
    public mutating func start(query: UInt64, live: Int) {
        pending[query] = KeyringSummary(nodes: live)
    }

    /// An answer to `query` from the member called `name`: `answer` is nil when it could not
    /// be read. Returns the finished summary once every member live at the start has answered.
    public mutating func record(query: UInt64, from name: String, answer: KeyringAnswer?) -> KeyringSummary? {
        guard var summary = pending[query] else { return nil }
        summary.responses += 1
        if let answer {
            if let e = answer.error { summary.errors[name] = e }
            for k in answer.state.keys { summary.keys[k, default: 0] += 1 }
            if let p = answer.state.primary { summary.primaryKeys[p, default: 0] += 1 }
            summary.modes[answer.state.mode, default: 0] += 1
        } else {
            summary.errors[name] = "unreadable answer"
        }
        if summary.responses >= summary.nodes {
            pending[query] = nil
            return summary
        }
        pending[query] = summary
        return nil
    }

    /// The query's deadline passed: the summary of what answered, if it was still open.
    public mutating func finish(query: UInt64) -> KeyringSummary? {
        pending.removeValue(forKey: query)
    }

    /// A member's answer once it tried the change: `state` is its keyring now, `error` why the
    /// change failed (nil if it applied), `seals` whether it now seals its packets. A node
    /// that does not seal names its keys by `fingerprint` only.
    public static func answer(
        state: KeyringState, error: String?, seals: Bool, fingerprint: (String) -> String
    ) -> KeyringAnswer {
        var state = state
        if !seals { state.keys = state.keys.map(fingerprint) }
        return KeyringAnswer(state: state, error: error)
    }
}
