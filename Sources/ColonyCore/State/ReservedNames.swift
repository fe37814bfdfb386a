/// Colony's own queries: they ride the same machinery as user queries, under names users
/// cannot take (`NodeCore.reservedNamePrefix`). Drivers send them with
/// `query(_: ColonyQuery, …)`; a user's `query(_: String, …)` is refused for these names.
package enum ColonyQuery: String, Sendable, CaseIterable {
    /// A keyring change across the swarm: each member applies it and answers with its
    /// keyring (Serf's `_serf_install-key` and friends).
    case keyring = "_colony-keyring"
    /// A force-leave (`NodeCore.forceLeave`): the core itself carries it out on each member and
    /// answers with what it did; it never reaches the application.
    case forceLeave = "_colony-force-leave"

    /// The internal query a received one is, if it is one.
    public init?(_ query: Query) { self.init(rawValue: query.name) }
}

/// Reserved names: users' queries, events and keys may not start with Colony's prefixes. The
/// core refuses them at its public entry points (`put`, `event`, `query`) with
/// `StateError.reservedName`; Colony's own traffic takes the internal paths.
extension NodeCore {
    /// Query and event names starting with this belong to Colony.
    public static let reservedNamePrefix = "_colony"

    /// True if a user may not take `name` for a query or event.
    public static func isReservedName(_ name: String) -> Bool { name.hasPrefix(reservedNamePrefix) }

    /// True if a user may not write `key` (revocations, evictions: `reservedKeyPrefix`).
    public static func isReservedKey(_ key: String) -> Bool { key.hasPrefix(reservedKeyPrefix) }

    /// Ask matching members; answers arrive as `.queryResponse` until `.queryFinished`.
    /// Names starting with `reservedNamePrefix` are refused (`.reservedName`).
    public mutating func query(
        _ name: String, payload: [UInt8], filter: QueryFilter = QueryFilter(), timeout: Duration, now: Instant
    ) -> (Result<Query, StateError>, [Effect]) {
        if Self.isReservedName(name) { return (.failure(.reservedName(name)), flush()) }
        return startQuery(name, payload: payload, filter: filter, timeout: timeout, now: now)
    }

    /// One of Colony's own queries (the internal path: drivers only, never a user's name).
    public mutating func query(
        _ query: ColonyQuery, payload: [UInt8], filter: QueryFilter = QueryFilter(), timeout: Duration, now: Instant
    ) -> (Result<Query, StateError>, [Effect]) {
        startQuery(query.rawValue, payload: payload, filter: filter, timeout: timeout, now: now)
    }
}
