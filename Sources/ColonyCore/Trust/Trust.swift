import HashTreeCollections

/// Trust (docs/design.md §6): signatures, per-sender rate limits, peer scores, the audit of
/// ping-req helpers, revocations and evictions. Handlers: `NodeCore+Trust`,
/// `NodeCore+Eviction`.
struct Trust: Sendable {
    enum Timer: Sendable, Equatable {
        /// Scores decay toward neutral once a second while any is held.
        case scoreDecay
        /// Judge the helpers asked for probe `seq`: the silent ones were freeloading.
        case helperAudit(UInt32)
        /// Forget an audit ping nobody answered.
        case auditPingTimeout(UInt32)
    }

    /// Helpers asked to probe for us, and which of them answered (ack or nack): one that
    /// stays silent is freeloading.
    struct HelperAudit: Sendable {
        var helpers: [NodeID]
        var answered: [NodeID] = []
    }

    /// What this machine counts (exported through `NodeCore.stats`).
    var stats = TrustStats()
    var authenticator: (any Authenticator)?
    /// Operators' timed orders carried out (`OrderLedger`).
    var orders = OrderLedger()
    var scores: TreeDictionary<NodeID, PeerScore> = [:]
    var scoreDecayArmed = false
    var packetBuckets: [NodeID: TokenBucket] = [:]
    var byteBuckets: [NodeID: TokenBucket] = [:]
    var lastBreachWindow: [NodeID: Int64] = [:]
    var helperAudits: [UInt32: HelperAudit] = [:]
    var auditPings: [UInt32: NodeID] = [:]
    /// Per helper, the ping-reqs it ignored in a row while answering direct pings
    /// (Trust+Helpers.swift).
    var ignoredStreaks: [NodeID: Int] = [:]
    /// Identities the authority revoked (looked up only).
    var revoked: Set<NodeID> = []
    /// Evictions the state holds, per evicted identity, per issuer (in force or not).
    var evictions: [NodeID: [NodeID: Eviction]] = [:]
    /// Identities evicted now (by the last look: expiry is noticed on the reap tick).
    var evictedNow: Set<NodeID> = []
    /// The newest alive claim of each evicted member, refused while it is evicted.
    var heldBack: [NodeID: Member] = [:]
    /// While a datagram from a sender with no standing is handled: the bytes its answers may
    /// take (NodeCore+ReplyBudget.swift); nil otherwise.
    var replyBudget: Int?
}
