/// Dissemination (docs/design.md §3): the piggyback queue, gossip rounds and the stream
/// exchanges of digest anti-entropy. Handlers: `NodeCore+Gossip`, `NodeCore+AntiEntropy`.
struct Dissemination: Sendable {
    enum Timer: Sendable, Equatable {
        /// A gossip round (armed only while there is news).
        case gossip
        /// Periodic digest anti-entropy with one random member.
        case pushPull
        /// One of the extra anti-entropy rounds soon after joining.
        case joinSync
        /// Try to reach one member we hold dead (Serf's reconnect).
        case reconnect
        /// A stream exchange got no answer in time.
        case exchangeTimeout(UInt32)
    }

    enum ExchangeKind: Sendable, Equatable {
        case join
        case digest
        case state
    }

    struct Exchange: Sendable {
        var kind: ExchangeKind
        var peer: Peer
        var startedAt: Instant
        /// A joiner's download of the state it missed (not news: not re-gossiped).
        var catchUp = false
    }

    /// What this machine counts (exported through `NodeCore.stats`).
    var stats = DisseminationStats()
    var queue: BroadcastQueue
    var gossipArmed = false
    var exchanges: [UInt32: Exchange] = [:]
    /// The budget on gossip out beyond one datagram per target.
    var gossipBucket: TokenBucket?

    /// The budget on gossip out: of `wanted` datagrams of `bytes` for one target, the first
    /// is free and each further one costs its bytes from a bucket refilled at `budget` bytes
    /// a second. Returns how many may go (at least one).
    mutating func allowedPackets(_ wanted: Int, of bytes: Int, budget: Double, now: Instant) -> Int {
        var bucket = gossipBucket ?? TokenBucket(burst: budget, at: now)
        var allowed = 1
        while allowed < wanted && bucket.take(Double(bytes), rate: budget, burst: budget, now: now) {
            allowed += 1
        }
        gossipBucket = bucket
        return allowed
    }

    init(queue: BroadcastQueue) {
        self.queue = queue
    }
}
