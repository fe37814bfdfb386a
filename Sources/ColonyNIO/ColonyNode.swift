import ColonyCore
import ColonyStore
import ColonyTrust
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A Colony node on real sockets: UDP for probes and gossip, TCP for joins and anti-entropy.
///
/// It drives the same `NodeCore` the simulator drives; nothing about the protocol is decided
/// here. All core interaction happens on one event loop, which reads pending input before it
/// runs due timers (the order the simulator models).
public final class ColonyNode: Service, Sendable {
    public struct Configuration: Sendable {
        /// The member name (unique in the swarm, by convention).
        public var name: String
        /// Where to listen (UDP and TCP, same port; port 0 picks a free one).
        public var bind: Address
        /// Where others reach us, if not the bound address (NAT, 0.0.0.0 binds).
        public var advertise: Address?
        public var tags: [String: String] = [:]
        public var settings: Settings
        /// Data directory (identity, incarnation, known peers); nil keeps everything in memory.
        public var dataDirectory: String?
        /// Largest stream frame accepted, in bytes. Default 16 MiB.
        public var maxFrameBytes: Int = 16 << 20
        /// Inbound streams open at once, in all and from one host: beyond them a new connection
        /// is closed at once (issue 18: every connection has a limit). Defaults 256 and 16.
        public var maxInboundStreams = 256
        public var maxInboundStreamsPerHost = 16
        /// Bytes queued for one stream that its peer has not read: beyond them frames to it are
        /// dropped (a peer that never reads cannot grow this node's memory). Default 8 MiB.
        public var maxQueuedStreamBytes = 8 << 20
        /// Stream connect timeout. Default: the profile's stream timeout, at most 5 s.
        public var connectTimeout: Duration?
        /// LAN discovery by multicast; nil (the default) turns it off.
        public var discovery: MulticastDiscovery?
        /// The encryption keyring (`--encrypt`); nil sends and accepts plain packets. With a
        /// data directory, the keyring saved there (`keyring.json`) wins over this one, whose
        /// key is then only installed (a node restarted after rotations keeps the new keys).
        public var keyring: Keyring?
        /// Sealed packets whose time is further than this from ours are refused as stale.
        public var replayWindow: Duration = .seconds(60)
        /// Sign what this node originates with its Ed25519 identity and refuse unsigned or
        /// forged claims, records, events and queries. Default true.
        public var signatures = true
        /// This node's certificate from the swarm authority (admission: set the authority's
        /// key in `settings.trust.authorityKey`). Without one here, `node.cert` in the data
        /// directory is used.
        public var certificate: Certificate?

        public init(name: String, bind: Address, settings: Settings = .lan, dataDirectory: String? = nil) {
            self.name = name
            self.bind = bind
            self.settings = settings
            self.dataDirectory = dataDirectory
        }
    }

    public let configuration: Configuration
    let logger: Logger
    let group: any EventLoopGroup
    let ownsGroup: Bool
    let driver: Driver

    public init(configuration: Configuration, logger: Logger, eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.configuration = configuration
        self.logger = logger
        if let eventLoopGroup {
            group = eventLoopGroup
            ownsGroup = false
        } else {
            group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            ownsGroup = true
        }
        driver = Driver(configuration: configuration, loop: group.next(), logger: logger)
    }

    /// Open the store, bind the sockets and start the protocol. Returns the bound address.
    @discardableResult
    public func start() async throws -> Address { try await driver.start() }

    /// Run as a `Service`: start, then on graceful shutdown leave the swarm and close.
    public func run() async throws {
        if !(await isRunning) { _ = try await start() }
        try? await gracefulShutdown()
        try? await leave()
        await stop()
    }

    /// Join through seeds (`host:port`, names resolving to several addresses, IPv4 or IPv6).
    /// With no seeds, rejoin through the peers remembered from last time.
    public func join(seeds: [String]) async throws {
        var addresses: [Address] = []
        for s in seeds {
            let a = try Address(parsing: s, defaultPort: configuration.bind.port)
            addresses += try a.resolved()
        }
        try await driver.join(addresses)
    }

    /// Leave gracefully: the swarm learns `left`; returns when that has spread (bounded).
    public func leave() async throws { try await driver.leave() }

    /// Close the sockets without leaving (as a crash would look to the others).
    public func stop() async {
        await driver.stop()
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    /// A snapshot of the member table, filtered.
    public func members(status: MemberStatus? = nil, tag: (key: String, value: String)? = nil) async -> [Member] {
        let all = (try? await driver.onLoop { $0.core?.members ?? [] }) ?? []
        return all.filter { m in
            (status == nil || m.status == status) && (tag == nil || m.tags[tag!.key] == tag!.value)
        }.sorted { $0.name < $1.name }
    }

    /// True between `start` and `stop`.
    public var isRunning: Bool {
        get async { (try? await driver.onLoop { $0.core != nil }) ?? false }
    }

    /// How many members have each status (kept by the member table; no walk).
    public func statusCounts() async -> [MemberStatus: Int] {
        (try? await driver.onLoop { d in
            guard let table = d.core?.table else { return [:] }
            return Dictionary(uniqueKeysWithValues: MemberStatus.allCases.map { ($0, table.count($0)) })
        }) ?? [:]
    }

    /// This node as the swarm sees it.
    public func me() async -> Member? { try? await driver.onLoop { $0.core?.me } }

    /// Protocol counters and the driver's own (malformed packets, frames refused, …).
    public func statistics() async -> NodeStatistics {
        (try? await driver.onLoop { d in NodeStatistics(core: d.core?.stats ?? CoreStats(), driver: d.counters) })
            ?? NodeStatistics(core: CoreStats(), driver: DriverCounters())
    }

    /// Membership events from now on, as an `AsyncSequence`.
    public var events: AsyncStream<Event> { driver.subscribe() }

    // MARK: Replicated state (docs/design.md §4)

    /// Write `value` to `key` (nil deletes). With the `context` of an earlier `get`, the write
    /// resolves exactly the siblings that read saw; with none, it replaces every sibling this
    /// node holds (last writer wins). Returns once the record is durable in the local log;
    /// it spreads to the swarm from then on. Throws `StateError` for bad keys, values over
    /// the limit or a full budget, and `ColonyError.notDurable` if the log could not take it:
    /// then the write is undone here and sent to nobody.
    @discardableResult
    public func put(_ key: String, value: [UInt8]?, context: CausalContext? = nil) async throws -> StateRecord {
        try await driver.put(key, value: value, context: context)
    }

    /// Delete `key` (a tombstone, collected after the grace period).
    @discardableResult
    public func delete(_ key: String, context: CausalContext? = nil) async throws -> StateRecord {
        try await driver.put(key, value: nil, context: context)
    }

    /// The siblings of `key` and the context that resolves them (`.value`: last writer wins).
    public func get(_ key: String) async throws -> ReadResult {
        try await driver.onLoop { d in
            guard let core = d.core else { throw ColonyError.notStarted }
            return core.get(key)
        }
    }

    /// Live keys (not deleted) starting with `prefix`, sorted, with their reads.
    public func list(prefix: String = "", limit: Int = 1000) async throws -> [(key: String, read: ReadResult)] {
        try await driver.onLoop { d in
            guard let core = d.core else { throw ColonyError.notStarted }
            return core.state.liveKeys(prefix: prefix, limit: limit)
        }
    }

    /// Size of the replicated state here.
    public func stateSummary() async -> StateSummary {
        (try? await driver.onLoop { d in
            guard let s = d.core?.state else { return StateSummary() }
            return StateSummary(
                keys: s.sortedKeys.count - s.tombstonedKeys, tombstones: s.tombstonedKeys, records: s.recordCount,
                bytes: s.bytes, digest: String(s.contentHash, radix: 16))
        }) ?? StateSummary()
    }

    // MARK: User events and queries

    /// Broadcast a user event to every member (delivered here too). Returns once the event
    /// is durable in the local log; it is sent from then on. Throws `StateError` for a bad
    /// name or payload, `ColonyError.notDurable` if the log could not take it (then nobody
    /// gets it).
    @discardableResult
    public func event(_ name: String, payload: [UInt8], coalesce: Bool = false) async throws -> UserEvent {
        try await driver.event(name, payload: payload, coalesce: coalesce)
    }

    /// Ask matching members; answers arrive on the stream as they come, which ends at the
    /// deadline.
    /// Names starting with `_colony` are reserved for Colony's own queries (the core refuses
    /// them with `StateError.reservedName`).
    public func query(
        _ name: String, payload: [UInt8] = [], filter: QueryFilter = QueryFilter(), timeout: Duration = .seconds(5)
    ) async throws -> (query: Query, responses: AsyncStream<QueryResponse>) {
        let (q, s) = try await driver.query { core, now in
            core.query(name, payload: payload, filter: filter, timeout: timeout, now: now)
        }
        return (q, s)
    }

    /// How this node answers queries that match it: return a payload, or nil to stay silent.
    public func setQueryHandler(_ handler: (@Sendable (Query) async -> [UInt8]?)?) {
        driver.queryHandler.withLockedValue { $0 = handler }
    }

    // MARK: Network coordinates (docs/design.md §5)

    /// This node's Vivaldi coordinate and the last one each peer reported on an ack.
    public func coordinates() async -> (me: Coordinate, peers: [NodeID: Coordinate]) {
        (try? await driver.onLoop { d in (d.core?.vivaldi.coordinate ?? Coordinate(), d.core?.peerCoordinates ?? [:]) })
            ?? (Coordinate(), [:])
    }

    // MARK: The hive (docs/design.md §5)

    /// This node's place in the hive and every cell it knows of.
    public func hive() async -> HiveView {
        (try? await driver.onLoop { d -> HiveView in
            guard let core = d.core else { return .stopped }
            return HiveView(state: core.hive, holdsLease: core.holdsLease, routing: core.isRouting, me: core.me.id)
        }) ?? .stopped
    }

    /// `colony hive depose`: the queen of `cell` (default: this node's) abdicates and sits
    /// out the next elections — at once if she is this node, else by an order sent to her.
    public func deposeQueen(cell: CellID? = nil, order: Signature? = nil) async throws -> Deposal {
        try await driver.command { core, now in core.depose(cell: cell, order: order, now: now) }
    }

    /// The evictions in force now (every member refuses these identities).
    public func evictions() async -> [Eviction] {
        (try? await driver.onLoop { d in d.core?.evictionsInForce ?? [] }) ?? []
    }

    /// `colony hive lift`: end `id`'s evictions — those this node issued at once, the others
    /// by a request to their issuers. Returns the evictions lifted or asked to be.
    public func liftEviction(_ id: NodeID, orders: [NodeID: Signature] = [:]) async throws -> [Eviction] {
        try await driver.command { core, now in core.lift(id, orders: orders, now: now) }
    }

    /// `colony force-leave`: make the failed member `member` (a name or node id) `left` on every
    /// member, so it is no longer reported failed nor reconnected to; with `prune` its record is
    /// removed everywhere (Consul's `force-leave -prune`). Where operators are required, `order`
    /// is an operator's signature of `OperatorOrder.forceLeave` for the member's incarnation as
    /// this node holds it (`colony force-leave --operator DIR` makes it). Returns what the
    /// members answered by the deadline; throws `ForceLeaveError` for an unknown or alive
    /// member, or a refused order.
    public func forceLeave(
        _ member: String, prune: Bool = false, order: TimedOrder? = nil, timeout: Duration = .seconds(5)
    ) async throws -> ForceLeaveSummary {
        let id = try await driver.onLoop { d -> NodeID in
            guard let core = d.core else { throw ColonyError.notStarted }
            guard let id = core.forceLeaveTarget(member) else { throw ForceLeaveError.unknownMember(member) }
            return id
        }
        let (request, answers) = try await driver.query(
            { core, now in core.forceLeave(id, prune: prune, order: order, timeout: timeout, now: now) },
            id: { $0.query })
        var summary = request.summary
        for await answer in answers {
            if summary.record(answer) { break }
        }
        return summary
    }

    /// Operator keys are configured here: deposing, lifting, keyring changes and force-leaves
    /// need an operator's signed order (`OperatorOrder`).
    public func requiresOperator() async -> Bool {
        (try? await driver.onLoop { d in d.core?.requiresOperator ?? false }) ?? false
    }

    // MARK: Admission (docs/design.md §6)

    /// Spread the swarm authority's revocation of an identity: every member refuses it from
    /// then on (a reserved state record: joiners and nodes that were away learn it too).
    @discardableResult
    public func revoke(_ r: Revocation) async throws -> StateRecord { try await driver.revoke(r) }

    /// Identities this node knows to be revoked.
    public func revokedIdentities() async -> [NodeID] {
        ((try? await driver.onLoop { $0.core.map { Array($0.revoked) } ?? [] }) ?? []).sorted()
    }

    // MARK: The keyring (docs/design.md §6)

    /// This node's keyring: keys (base64, primary first) and mode ("off" without one).
    public func keyring() async -> KeyringState {
        (try? await driver.onLoop { KeyringState(keyring: $0.keyring) }) ?? KeyringState(keyring: nil)
    }

    /// Change this node's keyring only (saved in the data directory). Installing a key on a
    /// node without a keyring turns on reading sealed packets (mode `open`).
    @discardableResult
    public func changeKeyringLocally(_ op: KeyringOperation) async throws -> KeyringState {
        let (state, saved) = try await driver.onLoop { try $0.applyKeyring(op) }
        try await saved.get()
        return state
    }

    /// Change the keyring of every member, as Serf's `serf keys`: the change rides an
    /// internal query (sealed under the current key), each member applies it and answers.
    /// Refused when this node has no keyring: keys would travel in the clear. Where operators
    /// are required (`TrustSettings.operatorKeys`, or an authority), a change needs `order`,
    /// an operator's signature of `op.order(issuedAtMs:)`.
    public func changeKeyring(
        _ op: KeyringOperation, order: KeyringOrder? = nil, timeout: Duration = .seconds(5)
    ) async throws -> KeyringSummary {
        try await driver.onLoop { try $0.startKeyringChange(op, order: order, timeout: timeout) }.get()
    }

    // MARK: The event log

    /// Every change this node observed, from `offset` (1 = the beginning) on, then live.
    public func log(from offset: Int64 = 1) -> AsyncThrowingStream<LogEntry, any Error> {
        driver.follow(from: offset)
    }

    /// The newest log offset (0 if the log is empty).
    public func logOffset() async throws -> Int64 {
        guard let log = driver.eventLogBox.withLockedValue({ $0 }) else { throw ColonyError.notStarted }
        return try log.lastOffset()
    }
}

public struct StateSummary: Sendable, Equatable, Codable {
    public var keys = 0
    public var tombstones = 0
    public var records = 0
    public var bytes = 0
    /// Hash of the records held: equal on nodes that hold the same state.
    public var digest = "0"
}

public struct NodeStatistics: Sendable {
    public var core: CoreStats
    public var driver: DriverCounters
}

/// What the driver saw on the wire.
public struct DriverCounters: Sendable, Equatable {
    public var datagramsIn = 0
    public var datagramsOut = 0
    public var framesIn = 0
    public var framesOut = 0
    public var bytesIn = 0
    public var bytesOut = 0
    /// Datagrams or frames that did not decode, by reason.
    public var malformed: [String: Int] = [:]
    /// Packets refused for speaking another wire version.
    public var wrongVersion = 0
    /// Stream frames refused for size or truncation.
    public var framesRefused = 0
    /// Inbound connections closed at once: over `maxInboundStreams` or the per-host cap.
    public var streamsRefused = 0
    /// Frames not sent because their peer had `maxQueuedStreamBytes` unread (or, while
    /// connecting, that much already waiting).
    public var framesDroppedUnread = 0
    public var streamConnectFailures = 0
    /// Event-log commits, and commits that failed (disk full, …).
    public var logAppends = 0
    public var logFailures = 0
    /// Peers found by multicast discovery and joined.
    public var discovered = 0
    /// Packets refused by the keyring, by reason: `unsealable` (no key opens it), `plain`
    /// (unsealed while sealing is required), `stale`, `replayed`, `truncated`.
    public var refused: [String: Int] = [:]
    /// Keyrings handed to certified nodes that asked, and recovered from a certified member.
    public var keyringsHandedOut = 0
    public var keyringsRecovered = 0
    public init() {}

    public var refusedTotal: Int { refused.values.reduce(0, +) }

    public var malformedTotal: Int { malformed.values.reduce(0, +) }
}
