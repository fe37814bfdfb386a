/// One datagram or stream frame between nodes: who sent it, what it asks, and the
/// broadcasts piggybacked on it (SWIM §4: dissemination rides on failure-detector traffic).
package struct Packet: Sendable, Equatable {
    public var from: NodeID
    public var message: Message
    public var updates: [Update]

    public init(from: NodeID, message: Message, updates: [Update] = []) {
        self.from = from
        self.message = message
        self.updates = updates
    }
}

/// The protocol's requests and replies.
package enum Message: Sendable, Equatable {
    /// Direct probe. `target` lets a node that reused an address refuse a ping meant for
    /// its predecessor.
    case ping(seq: UInt32, target: NodeID)
    /// Answer to a ping (direct, or forwarded by a helper with the requester's `seq`). A
    /// direct answer carries the acker's network coordinate (Vivaldi, as Serf's acks do).
    case ack(seq: UInt32, coordinate: Coordinate? = nil)
    /// A helper's answer when the target did not ack in time (Lifeguard §IV.A): it tells the
    /// requester its own links work, so a missing ack is about the target.
    case nack(seq: UInt32)
    /// Ask the receiver to probe `target` on our behalf (SWIM's ping-req).
    case pingReq(seq: UInt32, target: NodeID, targetAddress: Address)
    /// Nothing but piggybacked updates.
    case gossip
    /// Anti-entropy and join exchanges; carried over a stream (TCP), never a datagram.
    case sync(Sync)
    /// A member's answer to a query, sent straight to the asker.
    case queryResponse(QueryResponse)
    /// Elections, lease heartbeats and rosters of a cell (the hive).
    case hive(HiveMessage)
    /// Broadcasts pushed down the queens' tree (records, events, queries).
    case route(scope: RouteScope, updates: [Update])
    /// Ids of broadcasts the sender holds (lazy push): pull what does not arrive.
    case ihave([BroadcastID])
    /// Send me these broadcasts (answered with `.route(scope: .leaf)`).
    case graft([BroadcastID])

    /// Whether the news this message carries from the piggyback queue counts as one of that
    /// news's limited transmissions: for SWIM's own messages, which go to members picked at
    /// random, yes; for the hive's and the router's, which go to the same few members again
    /// and again, no — they carry it along for free (`NodeCore.sendDatagram`).
    public var spendsTransmissions: Bool {
        switch self {
        case .ping, .ack, .nack, .pingReq, .gossip, .sync, .queryResponse: true
        case .hive, .route, .ihave, .graft: false
        }
    }

    public var kind: MessageKind {
        switch self {
        case .ping: .ping
        case .ack: .ack
        case .nack: .nack
        case .pingReq: .pingReq
        case .gossip: .gossip
        case .sync: .sync
        case .queryResponse: .queryResponse
        case .hive: .hive
        case .route: .route
        case .ihave: .ihave
        case .graft: .graft
        }
    }
}

package enum MessageKind: Int, Sendable, CaseIterable, CustomStringConvertible {
    case ping, ack, nack, pingReq, gossip, sync, queryResponse, hive, route, ihave, graft

    public var description: String {
        switch self {
        case .ping: "ping"
        case .ack: "ack"
        case .nack: "nack"
        case .pingReq: "pingReq"
        case .gossip: "gossip"
        case .sync: "sync"
        case .queryResponse: "queryResponse"
        case .hive: "hive"
        case .route: "route"
        case .ihave: "ihave"
        case .graft: "graft"
        }
    }
}

/// A piece of membership news, disseminated by piggybacking (memberlist's alive / suspect /
/// dead messages). Each names its subject; newer news about a subject supersedes older news.
package enum Update: Sendable, Equatable {
    /// The member is alive at `member.incarnation`, with this address and metadata.
    case alive(Member)
    /// `from` suspects the member at `incarnation`.
    case suspect(id: NodeID, incarnation: UInt64, from: NodeID)
    /// `from` declared the member dead at `incarnation`.
    case dead(id: NodeID, incarnation: UInt64, from: NodeID)
    /// The member left gracefully at `incarnation` (signed by it when the swarm authenticates).
    case left(id: NodeID, incarnation: UInt64, signature: Signature? = nil)
    /// A write to the replicated key-value state.
    case record(StateRecord)
    /// A user event.
    case event(UserEvent)
    /// A query; members that match answer the asker directly.
    case query(Query)
    /// A queen's claim on her cell (the hive's directory).
    case queen(QueenClaim)

    /// What the news is about: queued news about the same subject replaces older news.
    @inlinable
    public var subject: BroadcastSubject {
        switch self {
        case .alive(let m): .member(m.id)
        case .suspect(let id, _, _), .dead(let id, _, _), .left(let id, _, _): .member(id)
        case .record(let r): .record(r.dot)
        case .event(let e): e.coalesce ? .coalescedEvent(e.name) : .event(e.id)
        case .query(let q): .event(q.id)
        case .queen(let c): .cell(c.cell)
        }
    }
}

/// The key of the piggyback queue.
package enum BroadcastSubject: Hashable, Sendable {
    case member(NodeID)
    case record(Dot)
    case event(Dot)
    case coalescedEvent(String)
    case cell(CellID)
}

/// Stream exchanges. Join is a full-state push-pull (the joiner knows nothing). Periodic
/// anti-entropy is a digest drill-down: compare a hash of the whole table, then per-bucket
/// hashes, then send only the members of buckets that differ — so between agreeing peers a
/// round costs a few dozen bytes whatever N is (memberlist sends the full state every time).
package enum Sync: Sendable, Equatable {
    /// Joiner → seed: my state (usually just me).
    case join(exchange: UInt32, members: [Member])
    /// Seed → joiner: my full state.
    case joinReply(exchange: UInt32, members: [Member])
    /// Initiator → peer: the hash of my whole table and its size.
    case digest(exchange: UInt32, root: UInt64, count: UInt32)
    /// Peer → initiator: our tables hash the same; done.
    case inSync(exchange: UInt32)
    /// Peer → initiator: my bucket hashes at `2^bits` buckets.
    case buckets(exchange: UInt32, bits: UInt8, hashes: [UInt64])
    /// The members of the buckets that differ. The initiator sends first; the peer answers
    /// with its own (`isReply`).
    case entries(exchange: UInt32, bits: UInt8, buckets: [UInt16], members: [Member], isReply: Bool)
    /// State anti-entropy (Scuttlebutt), step 1: the hash of what the initiator has seen.
    case stateRoot(exchange: UInt32, root: UInt64)
    /// Step 2 (peer), if the hashes differ: the peer's digest — per origin, what it has seen.
    case stateDigest(exchange: UInt32, digest: [DigestEntry])
    /// Steps 3 and 4: the records the other side lacks, the counters through which that is
    /// complete per origin, whether the budget cut it short, and (step 3 only) the sender's
    /// own digest so the peer can answer in kind.
    case stateRecords(exchange: UInt32, records: [StateRecord], through: [Dot], complete: Bool, digest: [DigestEntry]?)
    /// Seed → joiner after the join reply: recent user events (the event buffer).
    case recentEvents(exchange: UInt32, events: [UserEvent])
    /// Event anti-entropy (as Serf's push-pull carries its event buffer), with a state sync:
    /// the ids of the initiator's recent events…
    /// (`isReply`: the peer's own list, sent back when it lacks some of the initiator's.)
    case eventIDs(exchange: UInt32, ids: [Dot], isReply: Bool)
    /// …and the peer's recent events missing from that list: news the initiator missed.
    case missedEvents(exchange: UInt32, events: [UserEvent])

    public var exchange: UInt32 {
        switch self {
        case .join(let e, _), .joinReply(let e, _), .digest(let e, _, _), .inSync(let e),
            .buckets(let e, _, _), .entries(let e, _, _, _, _), .stateRoot(let e, _),
            .stateDigest(let e, _), .stateRecords(let e, _, _, _, _), .recentEvents(let e, _),
            .eventIDs(let e, _, _), .missedEvents(let e, _):
            e
        }
    }
}
