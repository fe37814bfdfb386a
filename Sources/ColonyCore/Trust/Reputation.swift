/// A token bucket on virtual time: `rate` tokens a second up to `burst`.
package struct TokenBucket: Sendable, Equatable {
    public var tokens: Double
    public var updatedAt: Instant

    public init(burst: Double, at now: Instant) {
        tokens = burst
        updatedAt = now
    }

    /// Take `cost` tokens if there are enough; refills first.
    public mutating func take(_ cost: Double, rate: Double, burst: Double, now: Instant) -> Bool {
        refill(rate: rate, burst: burst, now: now)
        guard tokens >= cost else { return false }
        tokens -= cost
        return true
    }

    /// How long until `cost` tokens are there (zero: now), rounded up to the nanosecond.
    public mutating func wait(for cost: Double, rate: Double, burst: Double, now: Instant) -> Duration {
        refill(rate: rate, burst: burst, now: now)
        guard tokens < cost, rate > 0 else { return .zero }
        return .nanoseconds(Int64(((cost - tokens) / rate * 1e9).rounded(.up)))
    }

    mutating func refill(rate: Double, burst: Double, now: Instant) {
        if now > updatedAt {
            tokens = min(burst, tokens + (now - updatedAt).accrued(perSecond: rate))
            updatedAt = now
        }
    }
}

/// Knobs of peer scoring and rate limiting (docs/design.md §6). Defaults leave honest traffic an
/// order of magnitude of headroom: a member sends a peer a few packets a second, a busy one
/// a few dozen.
public struct TrustSettings: Sendable, Hashable {
    /// Packets a second one sender may send us (datagrams and stream frames), and the burst.
    public var packetsPerSecond: Double = 400
    public var packetBurst: Double = 400
    /// Datagram bytes a second one sender may send us, and the burst.
    public var bytesPerSecond: Double = 2_000_000
    public var byteBurst: Double = 4_000_000
    /// Senders not in the member table (joiners, strangers) share one bucket this many times
    /// a single sender's.
    public var strangerShare: Double = 4
    /// Bytes a second this node spends on gossip rounds beyond one datagram per target (the
    /// budget on gossip out).
    public var gossipBytesPerSecond: Double = 4_000_000
    /// Keyring recovery (`KeyringRecoveryMachine`): a certified node whose join finds no seed
    /// asks the seeds for the current keyring at most this often.
    public var keyringRecoveryInterval: Duration = .seconds(5)

    /// Score weights (gossipsub v1.1 style). Rewards are capped counters times a weight;
    /// penalties are counters squared times a weight, so a slip costs little and a habit a
    /// lot.
    public var timelyAckWeight: Double = 1
    public var timelyAckCap: Double = 10
    public var firstDeliveryWeight: Double = 1
    public var firstDeliveryCap: Double = 10
    public var invalidWeight: Double = -20
    public var rateBreachWeight: Double = -5
    public var unansweredWeight: Double = -40
    /// Counters are multiplied by these every second (rewards fade faster than penalties).
    public var rewardDecay: Double = 0.9
    public var penaltyDecay: Double = 0.98
    /// Below this score a peer's packets are ignored (graylist).
    public var graylistThreshold: Double = -30
    /// Judge ping-req helpers by a run of ignored requests longer than the measured loss
    /// explains, and hear a graylisted member's own refutation (issue 17). False restores the
    /// behaviour before: one ignored request graylists the helper, and its refutations are
    /// then ignored — what made live members die under loss (the simulator's negative control).
    public var lossTolerant = true
    /// Below this score its eviction is proposed. The hive evicts a member once the scores
    /// of the members that graylisted it (at least two) add up below it.
    public var evictThreshold: Double = -300
    /// Admission: the swarm authority's public key. When set, a member's alive claim must
    /// carry a certificate for its key signed by it, unexpired; and revocations signed by it
    /// are honoured.
    public var authorityKey: [UInt8]?
    /// Operators' public keys (Ed25519): with any (or an authority) configured, deposing,
    /// lifting an eviction and keyring changes need one's signature (`OperatorOrder`).
    public var operatorKeys: [[UInt8]] = []

    public init() {}
}

/// One peer's standing with us.
package struct PeerScore: Sendable, Equatable {
    public var timelyAcks: Double = 0
    public var firstDeliveries: Double = 0
    /// Invalid signatures, malformed or unsealable packets.
    public var invalid: Double = 0
    /// Of `invalid`, the invalid signatures: forgery, never a network fault (a packet
    /// sealed with an old key, say, is malformed, not forged).
    public var forgeries: Double = 0
    public var rateBreaches: Double = 0
    /// Ping-reqs (and exchanges) it did not answer: freeloading.
    public var unanswered: Double = 0
    public var graylisted = false
    public var evictionProposed = false

    public func score(_ w: TrustSettings) -> Double {
        w.timelyAckWeight * min(timelyAcks, w.timelyAckCap)
            + w.firstDeliveryWeight * min(firstDeliveries, w.firstDeliveryCap)
            + w.invalidWeight * invalid * invalid
            + w.rateBreachWeight * rateBreaches * rateBreaches
            + w.unansweredWeight * unanswered * unanswered
    }

    /// What this peer did that no network fault explains — forged signatures and floods —
    /// as a positive penalty (what an accusation reports; rewards and unanswered requests,
    /// which partitions and pauses cause too, do not count).
    public func gravePenalty(_ w: TrustSettings) -> Double {
        -(w.invalidWeight * forgeries * forgeries + w.rateBreachWeight * rateBreaches * rateBreaches)
    }

    mutating func decay(_ w: TrustSettings) {
        timelyAcks *= w.rewardDecay
        firstDeliveries *= w.rewardDecay
        invalid *= w.penaltyDecay
        forgeries *= w.penaltyDecay
        rateBreaches *= w.penaltyDecay
        unanswered *= w.penaltyDecay
        for v in [\PeerScore.timelyAcks, \.firstDeliveries, \.invalid, \.forgeries, \.rateBreaches, \.unanswered]
        where self[keyPath: v] < 0.01 {
            self[keyPath: v] = 0
        }
    }

    var isNeutral: Bool {
        timelyAcks == 0 && firstDeliveries == 0 && invalid == 0 && forgeries == 0 && rateBreaches == 0
            && unanswered == 0 && !graylisted && !evictionProposed
    }
}

/// Why a peer's score went down.
package enum Offence: String, Sendable, CaseIterable {
    case invalidSignature
    case malformed
    case rateLimited
    case unanswered
}
