import HashTreeCollections

/// SWIM + Lifeguard membership (docs/design.md §2): the member table, the randomised probe order,
/// the probe in flight, probes run for others, suspicions and tombstones, and the join in
/// progress. Its handlers live in `NodeCore+Probe`, `NodeCore+Merge` and `NodeCore+Join`.
struct Membership: Sendable {
    /// The membership timers (see `NodeCore.fire`).
    enum Timer: Sendable, Equatable {
        /// End the current probe round and start the next.
        case probe
        /// The direct ping of probe `seq` is overdue: ask helpers.
        case probeTimeout(UInt32)
        /// As a helper, the ping we sent for a requester (our `seq`) is overdue: nack.
        case helperTimeout(UInt32)
        /// Unrefuted suspicion of a member at an incarnation becomes death.
        case suspicion(NodeID, UInt64)
        /// Collect tombstones older than the tombstone timeout.
        case reap
        case joinRetry
        case leaveTimeout
        /// A held comeback's hold ran out, or its confirming ping is overdue (`NodeCore+Flapping`).
        case revivalHold(NodeID)
    }

    struct ProbeState: Sendable {
        var seq: UInt32
        var target: NodeID
        var address: Address
        var startedAt: Instant
        var acked = false
        var indirect = false
        var expectedNacks = 0
        var nacks = 0
        /// The helpers asked to probe the target for us (their acks count too).
        var helpers: [NodeID] = []
    }

    struct HelperProbe: Sendable {
        var requester: Peer
        var requesterSeq: UInt32
    }

    /// What this machine counts (exported through `NodeCore.stats`).
    var stats = MembershipStats()
    var me: Member
    var table: MemberTable
    var awareness: Awareness
    var probeOrder = ProbeOrder()
    var probe: ProbeState?
    /// How often our direct probes are answered (read by the lone-verdict rule and the helper
    /// audit).
    var probeRecord = ProbeRecord()
    /// Probes we run for others (ping-req), by our sequence number.
    var helping: [UInt32: HelperProbe] = [:]
    var suspicions: [NodeID: Suspicion] = [:]
    /// Dead and left members with when they became so: tombstones to reap, dead ones to
    /// gossip to for a while and to try to reconnect. Deterministic order (TreeDictionary).
    var gone: TreeDictionary<NodeID, Instant> = [:]
    /// When we last reached out to a member we hold dead that sent us something (looked up
    /// only).
    var lastRevive: [NodeID: Instant] = [:]
    /// When members came back from the dead, recent ones only (flap damping).
    var revivals: [NodeID: [Instant]] = [:]
    /// Comebacks held because the member flaps, and the confirming pings in flight.
    var holds: [NodeID: NodeCore.RevivalHold] = [:]
    var holdPings: [UInt32: NodeID] = [:]
    /// Members this node made `left` by a force-leave (`NodeCore+ForceLeave`): its verdict, not
    /// their signed leave, so table exchanges show them dead. Cleared with the record's next
    /// change.
    var forcedLeft: Set<NodeID> = []
    /// Which member speaks from an address (to hold undecodable packets against it).
    var addressIndex: [Address: NodeID] = [:]
    /// Sequence numbers of probes, exchanges and pings.
    var seq: UInt32 = 0
    /// True once a join got an answer (or the node was built already knowing the swarm).
    var hasJoined = false
    /// Members sign their alive claims (the node authenticates): a suspicion or death at an
    /// incarnation above the one held is one its member never claimed, so a forgery.
    var signedIncarnations = false
    /// The seeds of the join in progress (empty once joined or never asked).
    var joinSeeds: [Address] = []
    var joinAttempt = 0
    var joinSyncsLeft: [Duration] = []

    init(me: Member, table: MemberTable, awareness: Awareness) {
        self.me = me
        self.table = table
        self.awareness = awareness
    }

    /// The next live member other than us, in this round's permutation of table positions
    /// (SWIM §4.3, randomised round-robin: each live member is probed once per round).
    mutating func nextProbeTarget(rng: inout Xoshiro256) -> Member? {
        let n = table.count
        guard n > 1 else { return nil }
        for _ in 0..<n {
            let position = probeOrder.next(count: n, rng: &rng)
            let m = table.record(atOffset: position).member
            if m.id != me.id && m.status.isLive { return m }
        }
        return nil
    }

    mutating func nextSeq() -> UInt32 {
        seq &+= 1
        return seq
    }
}
