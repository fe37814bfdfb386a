/// Replicated key-value state, user events and queries (docs/design.md §4): the record store, the
/// hybrid logical clock, this node's counters, the event buffer and the queries in flight.
/// Handlers: `NodeCore+State`.
struct ReplicatedState: Sendable {
    enum Timer: Sendable, Equatable {
        /// Collect tombstones past their grace period.
        case collect
        /// Scuttlebutt anti-entropy of the records with one random member.
        case sync
        /// A query's deadline (by its counter).
        case queryDeadline(UInt64)
    }

    /// What this machine counts (exported through `NodeCore.stats`).
    var stats = ReplicatedStateStats()
    var store = StateStore()
    var hlc = HybridClock()
    /// The state machinery draws from its own generator, so adding state sync changes no
    /// membership decision.
    var rng: Xoshiro256
    /// Wall time (ms since the epoch) at `wallAnchorAt`, from the last input that carried it.
    var wallAnchorMs: UInt64 = 0
    var wallAnchorAt = Instant.zero
    /// Counter of this node's writes (records), across keys.
    var writeCounter: UInt64 = 0
    /// Own writes up to this counter are durable and may be sent.
    var durableCounter: UInt64 = 0
    /// Own writes applied here whose log entry is not durable yet, oldest first: announced and
    /// sent once it is, undone if it cannot be (`NodeCore+Durability`).
    var awaitingDurability: [PendingWrite] = []
    /// Own events whose log entry is not durable yet, oldest first: buffered, delivered here
    /// and sent once it is, dropped if it cannot be.
    var awaitingEvents: [UserEvent] = []
    /// Counter of this node's events and queries.
    var eventCounter: UInt64
    var lamport: UInt64 = 0
    var eventsSeen = SeenSet()
    var recentEvents: [UserEvent] = []
    /// Newest coalesced event per name (looked up only).
    var latestCoalesced: [String: UserEvent] = [:]
    var pendingQueries: [UInt64: PendingQuery] = [:]
    /// Per origin, the highest counter signed evidence shows existed (authenticating only).
    var evidenced: [NodeID: UInt64] = [:]

    /// The id and Lamport time of this node's next event or query.
    mutating func nextBroadcastID(origin: NodeID) -> (id: Dot, lamport: UInt64) {
        eventCounter &+= 1
        lamport &+= 1
        return (Dot(origin: origin, counter: eventCounter), lamport)
    }

    /// A record's hybrid time may move our clock: it is dated at most `maxClockDriftMs` ahead of
    /// `wallMs` (one rule for peers' records and for those restored from the log).
    static func withinDrift(_ t: HLCTimestamp, wallMs: UInt64) -> Bool {
        t.physicalMs <= wallMs || t.physicalMs - wallMs <= maxClockDriftMs
    }

    init(rng: Xoshiro256, eventCounter: UInt64) {
        self.rng = rng
        self.eventCounter = eventCounter
    }
}
