/// How a packet travels: an unreliable datagram (UDP, ≤ MTU) or a reliable stream (TCP).
package enum Transport: Sendable, Hashable {
    case datagram
    case stream
}

/// What the core asks its driver to do. Drivers switch over every case, with no `default:`.
package enum Effect: Sendable, Equatable {
    /// Send a packet.
    case send(Packet, to: Peer, via: Transport)
    /// Tell the application something happened.
    case emit(Event)
    /// Make this durable before acting on later effects (a restarted node must come back
    /// with a strictly higher incarnation, docs/design.md §2).
    case persist(Persisted)
    /// Call `tick(now:)` at this time (the earliest pending timer).
    case wake(at: Instant)
}

package enum Persisted: Sendable, Equatable {
    case incarnation(UInt64)
    /// A state record this node now holds (its own writes included), with what it changed:
    /// the complete log entry (a `.keyChanged` event with the same change follows, for the
    /// application). For its own writes the driver calls `recordsDurable(through:)` once the
    /// record is on disk; only then is it sent anywhere.
    case record(KeyChange)
    /// A record that arrived already covered by a later write held here: it changed no key,
    /// but is logged so a node rebuilt from its log has seen exactly what this one had.
    case covered(StateRecord)
    /// A user event received or sent (kept so a restarted node knows its Lamport time).
    case event(UserEvent)
    /// A member's record changed in this node's view (`previous` is nil for a new member);
    /// the `.memberChanged` event follows.
    case member(Member, previous: Member?)
    /// Deleted keys whose tombstones were collected; the `.keysCollected` event follows.
    case collected([String])
}

/// A change to one key as this node saw it.
public struct KeyChange: Sendable, Equatable {
    public var record: StateRecord
    /// Siblings the record resolved (covered by its context: superseded, not lost).
    public var superseded: [Dot]
    /// How many siblings the key has now.
    public var siblings: Int
    /// True if this node wrote it.
    public var local: Bool

    public init(record: StateRecord, superseded: [Dot], siblings: Int, local: Bool) {
        self.record = record
        self.superseded = superseded
        self.siblings = siblings
        self.local = local
    }
}

/// Observable happenings: the membership event stream and lifecycle milestones.
public enum Event: Sendable, Equatable {
    /// A member's record changed in this node's view (`previous` is nil for a new member).
    case memberChanged(Member, previous: Member?)
    /// A tombstone was collected after the tombstone timeout.
    case memberReclaimed(NodeID)
    /// A join attempt got an answer from a seed: this node now knows the swarm.
    case joined(members: Int)
    /// No seed answered; the next attempt is scheduled after `retryIn`.
    case joinFailed(attempt: Int, retryIn: Duration)
    /// A graceful leave finished spreading (or timed out); the driver may stop.
    case leaveCompleted
    /// A key was written (here or elsewhere) and this node now holds the record.
    case keyChanged(KeyChange)
    /// Deleted keys whose tombstones were collected after the grace period.
    case keysCollected([String])
    /// A user event arrived (`replayed`: from the buffer a seed sent on join).
    case userEvent(UserEvent, replayed: Bool)
    /// A query this node matches: answer with `respond(to:payload:now:)`.
    case queryReceived(Query)
    /// An answer to a query this node asked.
    case queryResponse(QueryResponse)
    /// A query's deadline passed; no more answers are taken.
    case queryFinished(Dot)
    /// A peer's score fell below the graylist threshold: its gossip is ignored.
    case peerGraylisted(NodeID, score: Double)
    /// A graylisted peer's score recovered.
    case peerForgiven(NodeID, score: Double)
    /// A peer's score fell below the eviction threshold: this node proposes its eviction
    /// (the hive's queens act on it).
    case evictionProposed(NodeID, score: Double)
    /// The authority revoked this identity (possibly ours): refused everywhere from now on.
    case revoked(NodeID)
    /// A queen's eviction took effect (possibly of this node): the identity is refused
    /// everywhere until `expiresMs` or until it is lifted.
    case evicted(Eviction)
    /// An identity's evictions ended: expired, or `lifted` by their issuer.
    case evictionEnded(NodeID, lifted: Bool)
    /// This node's place in the hive changed.
    case hive(HiveChange)
}

/// What changed in this node's place in the hive (docs/design.md §5).
public enum HiveChange: Sendable, Equatable {
    /// This node founded a cell and rules it.
    case founded(cell: CellID, term: UInt64)
    /// This node won an election: queen of `cell` in `term`.
    case elected(cell: CellID, term: UInt64)
    /// This node stopped being queen (a newer term, lost quorum, leaving, dissolving).
    case steppedDown(cell: CellID, term: UInt64, reason: String)
    /// This node accepted `queen` for `cell` in `term` (joining, or after an election).
    case accepted(cell: CellID, term: UInt64, queen: NodeID)
    /// This node left its cell.
    case leftCell(cell: CellID, reason: String)
    /// This queen's cell breeds: `voters` of it (the designate among them) go to `newCell`.
    case splitting(cell: CellID, newCell: CellID, designate: NodeID, voters: [NodeID])
}

/// Counters a node keeps about its own protocol work, by the sub-machine that counts them;
/// drivers export them as metrics.
public struct CoreStats: Sendable, Equatable {
    public var membership: MembershipStats
    public var dissemination: DisseminationStats
    public var state: ReplicatedStateStats
    public var trust: TrustStats
    public var hive: HiveStats
    public var router: RouterStats

    public init(
        membership: MembershipStats = .init(),
        dissemination: DisseminationStats = .init(),
        state: ReplicatedStateStats = .init(),
        trust: TrustStats = .init(),
        hive: HiveStats = .init(),
        router: RouterStats = .init()
    ) {
        self.membership = membership
        self.dissemination = dissemination
        self.state = state
        self.trust = trust
        self.hive = hive
        self.router = router
    }
}

/// What the membership sub-machine counts.
public struct MembershipStats: Sendable, Equatable {
    public var probesSent = 0
    public var probesFailed = 0
    public var indirectProbesSent = 0
    public var nacksReceived = 0
    public var suspicionsRaised = 0
    public var refutations = 0
    public var membersDeclaredDead = 0
    public var misdirectedPings = 0
    public var unsupportedVersion = 0
    /// Claims whose incarnation leaps further above the one held than any history could
    /// (`Membership.maxIncarnationLeap`): ignored, so no claim can spend an identity's counter.
    public var implausibleIncarnations = 0
    /// Probed members declared dead because their port refused the fallback stream.
    public var refusedProbes = 0
    /// Verdicts put off because their timer fired late (this node had stalled).
    public var lateVerdictsDeferred = 0
    /// Suspicions this node let stand instead of declaring a death on its own, because its
    /// own probes mostly went unanswered (it is probably the one cut off).
    public var loneVerdictsWithheld = 0
    /// Suspected members told directly that they are suspected (so they can refute).
    public var suspectsNotified = 0
    /// Comebacks of flapping members held back (each claim heard while held counts).
    public var revivalsHeld = 0
    /// Holds that ran out with the member silent to this node's pings, and began again.
    public var revivalHoldsExtended = 0
    /// Held members readmitted because they answered a direct ping.
    public var revivalsConfirmed = 0
    public init() {}
}

/// What the dissemination sub-machine counts.
public struct DisseminationStats: Sendable, Equatable {
    /// Updates that changed nothing (duplicates or stale news): idempotence at work.
    public var redundantUpdates = 0
    public var syncsStarted = 0
    public var syncsInAgreement = 0
    public var syncMembersReceived = 0
    public init() {}
}

/// What the state sub-machine counts.
public struct ReplicatedStateStats: Sendable, Equatable {
    public var recordsApplied = 0
    /// State records that arrived again or already covered.
    public var recordsRedundant = 0
    /// Records, events and queries with impossible counters or times (forged or corrupt).
    public var recordsInvalid = 0
    public var stateSyncsStarted = 0
    public var stateSyncsInAgreement = 0
    public var stateRecordsSynced = 0
    public var eventsReceived = 0
    public var eventsRedundant = 0
    public var queriesAnswered = 0
    /// Own writes and events undone because the driver could not make them durable.
    public var writesUndone = 0
    /// Peers' records refused for breaking a budget a local write keeps (their origin's bytes,
    /// or the whole state's).
    public var recordsOverBudget = 0
    public init() {}
}

/// What the trust sub-machine counts.
public struct TrustStats: Sendable, Equatable {
    /// Claims, records, events and queries refused for a missing or invalid signature.
    public var signaturesRejected = 0
    /// Packets dropped by the per-sender rate limits.
    public var rateLimited = 0
    /// Offences held against peers (all kinds).
    public var offences = 0
    /// Times a peer was graylisted, and updates ignored from graylisted peers.
    public var peersGraylisted = 0
    public var graylistedUpdatesIgnored = 0
    /// Packets the driver could not open or decode (reported with `rejected(from:)`).
    public var packetsRejected = 0
    /// Packets refused at the inbound gate for not coming from whom they claim: not verified
    /// (on a node with an identity) or verified as someone else.
    public var unauthenticated = 0
    /// Packets refused at the inbound gate for a value no honest node sends (a counter at or
    /// past the protocol's ceiling, a coordinate that is not a finite number): `WireBounds`.
    public var outOfRange = 0
    /// Anti-entropy requests that came as datagrams (exchanges run over streams only).
    public var syncOverDatagramRefused = 0
    /// Datagram answers to senders with no standing trimmed (no gossip, no coordinate) or
    /// withheld so they take no more bytes than the request (NodeCore+ReplyBudget.swift).
    public var repliesTrimmed = 0
    public var repliesWithheld = 0
    /// Query answers not from the member they name, or not from its host.
    public var misattributedAnswersRefused = 0
    /// Acks of a probe from someone other than its target or a helper asked.
    public var strayAcksRefused = 0
    /// Queries not answered because their asker is not a member this node knows.
    public var queriesFromStrangersUnanswered = 0
    /// Helpers that did not answer a ping-req.
    public var unansweredPingReqs = 0
    /// Alive claims and joins refused for a missing, invalid or expired certificate.
    public var admissionRefused = 0
    /// Packets and claims refused because their identity was revoked; revocations applied.
    public var revokedRefused = 0
    public var revocations = 0
    /// Accusations sent to a queen and accepted by one; evictions issued, taken into
    /// effect and lifted by this node.
    public var accusationsSent = 0
    public var accusationsReceived = 0
    public var evictionsIssued = 0
    public var evictionsApplied = 0
    public var evictionsLifted = 0
    /// Eviction records refused for what the swarm asks beyond signatures, by reason
    /// (future, expired, not_queen, accusers, rate).
    public var evictionsRefused: [String: Int] = [:]
    /// Operator orders refused: unsigned where an operator is required, not an operator's,
    /// stale or replayed.
    public var ordersRefused = 0
    public init() {}
}

/// What the hive sub-machine counts.
public struct HiveStats: Sendable, Equatable {
    /// The hive: elections started (after a granted pre-vote) and won, heartbeats sent.
    public var electionsStarted = 0
    /// Hive messages not from the named member's own host (a spoofed vote, ack or release).
    public var unattributedRefused = 0
    public var electionsWon = 0
    public var heartbeatsSent = 0
    public init() {}
}

/// What the router sub-machine counts.
public struct RouterStats: Sendable, Equatable {
    /// Routed broadcasts forwarded, ids announced, grafts asked and answered.
    public var routedForwarded = 0
    public var idsAnnounced = 0
    public var graftsSent = 0
    public var graftsAnswered = 0
    public init() {}
}
