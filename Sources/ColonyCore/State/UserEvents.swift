/// A Serf-style user event: a named payload broadcast to every member, ordered by a Lamport
/// time and de-duplicated by its id (origin and that origin's event counter).
public struct UserEvent: Hashable, Sendable {
    public var id: Dot
    public var lamport: UInt64
    public var name: String
    public var payload: [UInt8]
    /// Only the newest event of this name matters: older ones still queued or buffered are
    /// dropped (Serf's coalescing).
    public var coalesce: Bool
    /// The origin's signature (when the swarm authenticates).
    public var signature: Signature?

    public init(id: Dot, lamport: UInt64, name: String, payload: [UInt8], coalesce: Bool) {
        self.id = id
        self.lamport = lamport
        self.name = name
        self.payload = payload
        self.coalesce = coalesce
    }
}

/// Which members answer a query: all of `names` (if any) and all of `tags` must match.
public struct QueryFilter: Hashable, Sendable {
    public var names: [String]
    public var tags: [String: String]

    public init(names: [String] = [], tags: [String: String] = [:]) {
        self.names = names
        self.tags = tags
    }

    public func matches(_ m: Member) -> Bool {
        (names.isEmpty || names.contains(m.name)) && tags.allSatisfy { m.tags[$0.key] == $0.value }
    }
}

/// A question to (filtered) members. Matching members answer the asker directly.
public struct Query: Hashable, Sendable {
    public var id: Dot
    public var lamport: UInt64
    public var name: String
    public var payload: [UInt8]
    public var filter: QueryFilter
    /// Where answers go.
    public var asker: Address
    /// How long the asker waits; members do not answer stale queries.
    public var timeoutMs: UInt32
    /// The asker's signature (when the swarm authenticates).
    public var signature: Signature?

    public init(
        id: Dot, lamport: UInt64, name: String, payload: [UInt8], filter: QueryFilter, asker: Address, timeoutMs: UInt32
    ) {
        self.id = id
        self.lamport = lamport
        self.name = name
        self.payload = payload
        self.filter = filter
        self.asker = asker
        self.timeoutMs = timeoutMs
    }
}

/// One member's answer to a query.
public struct QueryResponse: Hashable, Sendable {
    public var query: Dot
    public var from: NodeID
    public var name: String
    public var payload: [UInt8]

    public init(query: Dot, from: NodeID, name: String, payload: [UInt8]) {
        self.query = query
        self.from = from
        self.name = name
        self.payload = payload
    }
}
