/// Every knob of a node, with memberlist's defaults (docs/design.md §2) and named profiles.
///
/// `lan` is memberlist's `DefaultLANConfig`, `wan` its `DefaultWANConfig`, `local` its
/// `DefaultLocalConfig`; Colony's additions (digest anti-entropy, reconnect, join boost) are
/// documented where they appear.
public struct Settings: Sendable, Hashable {
    // MARK: Failure detection (SWIM)

    /// Time between probes of successive members (SWIM's protocol period T). Default 1 s.
    public var probeInterval: Duration = .seconds(1)
    /// How long a direct ping waits for an ack before asking helpers. Default 500 ms.
    public var probeTimeout: Duration = .milliseconds(500)
    /// Helpers asked to probe on our behalf when a direct ping fails (SWIM's k). Default 3.
    public var indirectChecks: Int = 3
    /// A helper waits this fraction of `probeTimeout` before nacking, so its nack reaches the
    /// prober before the prober's own deadline (swift-cluster-membership's 80%). Default 0.8.
    public var indirectProbeTimeoutFraction: Double = 0.8
    /// When the direct ping fails, also ping over a stream (memberlist's TCP fallback): a
    /// member behind a lossy UDP path is then not suspected. Default true.
    public var streamFallbackPing: Bool = true

    // MARK: Lifeguard

    /// α: the minimum suspicion timeout is `α · log10(N) · probeInterval`. Default 3.
    ///
    /// Deviation: memberlist's LAN value is 4, whose minimum alone is 8 s at N = 100, so a
    /// crash could never be seen everywhere within 8 s. Colony uses 3 and keeps paused
    /// members safe by other means: I/O is read before overdue timers, verdicts from late
    /// timers are deferred, and the buddy system (measured: 0 false positives with 10% of
    /// nodes stalling 1–5 s, docs/benchmarks.md).
    public var suspicionMultiplier: Int = 3
    /// β: the maximum suspicion timeout is `β · minimum`. Default 6.
    public var suspicionMaxTimeoutMultiplier: Int = 6
    /// Start a prober's own suspicion clock when its unanswered ping was sent (the earliest
    /// evidence) rather than at the end of the probe period (Colony addition). Default true.
    public var anchorSuspicionAtProbe: Bool = true
    /// A node whose own direct probes are answered less often than this does not declare a
    /// member dead on its own: its suspicion stands until another member confirms it (then
    /// the verdict follows at once) or the member refutes (Colony addition, issue 17: a host
    /// at 80 % loss, or one that hears nothing, suspects everyone, and its lone verdicts
    /// reached healthy members before the refutations did). 0 turns it off. Default 0.5.
    public var loneVerdictMinHealth: Double = 0.5
    /// Declare a probed member dead at once when its port refuses the fallback stream
    /// (its host is up but its process is gone; see `NodeCore.streamFailed`). Needs
    /// `streamFallbackPing`. Colony addition. Default true.
    public var deadOnRefusedProbe: Bool = true
    /// Let the hive's and the router's messages spend the transmissions of the news they
    /// carry, as before issue 17 (a negative control for the simulator: news then spends
    /// them on the queen, and a death reaches half the swarm seconds late). Off: they carry
    /// it for free, and only SWIM's messages spend them.
    public var newsOnHiveMessages: Bool = false
    /// Flap damping (Colony addition, issue 17, `NodeCore+Flapping`): a member that has come
    /// back from the dead this many times within `flapWindow` has its next comeback held for
    /// `flapHold` and confirmed by a direct ping. 0 turns it off. Default 2.
    public var flapThreshold: Int = 2
    /// How far back comebacks count. Default 5 min.
    public var flapWindow: Duration = .seconds(300)
    /// How long a flapping member's comeback is held before this node pings it; again each
    /// time it does not answer. Default 30 s.
    public var flapHold: Duration = .seconds(30)
    /// Upper bound of the local health multiplier (Lifeguard §IV.A); probe timeout and
    /// interval scale by `LHM + 1`. Default 8.
    public var awarenessMaxMultiplier: Int = 8

    // MARK: Dissemination

    /// A broadcast is sent `retransmitMultiplier · ⌈log10(N+1)⌉` times. Default 4.
    public var retransmitMultiplier: Int = 4
    /// Time between gossip rounds. Default 200 ms.
    public var gossipInterval: Duration = .milliseconds(200)
    /// Members gossiped to per round. Default 3.
    public var gossipNodes: Int = 3
    /// How long dead members still receive gossip, so they learn they were declared dead. 30 s.
    public var gossipToTheDeadTime: Duration = .seconds(30)
    /// Largest datagram payload, header included. Default 1,400 bytes.
    public var maxDatagramBytes: Int = 1400
    /// Queued broadcasts beyond this are dropped, oldest and most-sent first. Default 4,096.
    public var maxQueuedBroadcasts: Int = 4096

    // MARK: Anti-entropy

    /// Base period of anti-entropy with one random member; scaled by memberlist's
    /// `pushPullScale` (×(⌈log2 N − log2 32⌉ + 1) above 32 members). Default 30 s.
    /// Colony exchanges a digest first, so a round between agreeing peers costs ~60 bytes.
    public var pushPullInterval: Duration = .seconds(30)
    /// After joining, extra anti-entropy rounds at these delays fill in what gossip missed
    /// (Colony addition: memberlist's tail waits for the periodic round). Default 0.5, 1.5, 3.5 s.
    public var joinSyncDelays: [Duration] = [.milliseconds(500), .milliseconds(1500), .milliseconds(3500)]
    /// How long a stream exchange may take before it is abandoned. Default 10 s.
    public var streamTimeout: Duration = .seconds(10)

    // MARK: Joining, leaving, reconnecting

    /// First delay between join attempts; doubles per failed attempt up to `joinRetryMax`.
    public var joinRetryInitial: Duration = .seconds(1)
    /// Longest delay between join attempts. Default 30 s.
    public var joinRetryMax: Duration = .seconds(30)
    /// A graceful leave waits at most this long for its broadcast to spread. Default 5 s.
    public var leavePropagateTimeout: Duration = .seconds(5)
    /// How often a node tries to reach a dead member again, which is what heals partitions
    /// (Serf's reconnect; each node tries with probability dead/live). Default 10 s.
    public var reconnectInterval: Duration = .seconds(10)
    /// Dead members are tried for reconnection this long. Default 24 h (Serf's default).
    public var reconnectTimeout: Duration = .seconds(24 * 3600)
    /// Dead and left members stay as tombstones this long, so stale gossip cannot resurrect
    /// them. Default 24 h (Serf's tombstone timeout).
    public var tombstoneTimeout: Duration = .seconds(24 * 3600)
    /// How often tombstones are swept. Default 5 s.
    public var reapInterval: Duration = .seconds(5)

    // MARK: Replicated state and events (docs/design.md §4)

    /// Largest value a write may carry.
    public var maxValueBytes: Int = 64 * 1024
    /// Longest key (UTF-8 bytes).
    public var maxKeyBytes: Int = 512
    /// Per-node budget: bytes of live records this node originated (key, value, metadata).
    public var maxBytesPerNode: Int = 64 * 1024 * 1024
    /// Per-swarm budget: bytes of live records a node holds from everyone.
    public var maxStateBytes: Int = 1024 * 1024 * 1024
    /// Deleted keys keep their tombstone this long before it is collected; longer than any
    /// partition is expected to last (a node cut off for longer may keep a deleted key).
    public var tombstoneGrace: Duration = .seconds(3600)
    /// Records per state anti-entropy answer over a stream, in bytes (a catch-up takes as
    /// many rounds as needed).
    public var maxSyncRecordBytes: Int = 4 * 1024 * 1024
    /// Stream gossip of broadcasts too large for a datagram: bytes per packet.
    public var maxStreamGossipBytes: Int = 1024 * 1024
    /// Largest user event or query payload.
    public var maxEventPayloadBytes: Int = 64 * 1024
    /// Recent user events kept for late joiners (and the Lamport window: older events are
    /// ignored, as Serf's event buffer).
    public var eventBufferSize: Int = 256
    /// State anti-entropy: every node compares its Scuttlebutt digest hash with one random
    /// member this often (scaled with swarm size as `pushPullInterval`). Between agreeing
    /// peers a round costs one hash each way.
    public var stateSyncInterval: Duration = .seconds(5)
    /// Datagrams a gossip round may send to one target when the queue holds more than one
    /// packet's worth (memberlist sends one; bursts of state writes need more).
    public var maxGossipPacketsPerTarget: Int = 16
    /// Longest a query may wait for answers.
    public var maxQueryTimeout: Duration = .seconds(60)

    // MARK: Trust (docs/design.md §6)

    /// Rate limits, the gossip-out budget and peer scoring.
    public var trust = TrustSettings()

    // MARK: The hive (docs/design.md §5)

    /// Cells, queens, elections and routing.
    public var hive = HiveSettings()

    public init() {}

    /// memberlist's `DefaultLANConfig` (but α = 3, see `suspicionMultiplier`).
    public static var lan: Settings { Settings() }

    /// memberlist's `DefaultWANConfig`: slower probes, longer suspicion.
    public static var wan: Settings {
        var s = Settings()
        s.probeInterval = .seconds(5)
        s.probeTimeout = .seconds(3)
        s.suspicionMultiplier = 6
        s.pushPullInterval = .seconds(60)
        s.stateSyncInterval = .seconds(10)
        s.gossipNodes = 4
        s.gossipInterval = .milliseconds(500)
        s.gossipToTheDeadTime = .seconds(60)
        s.streamTimeout = .seconds(30)
        s.reconnectInterval = .seconds(30)
        s.joinSyncDelays = [.seconds(1), .seconds(3), .seconds(7)]
        s.hive = .wan
        return s
    }

    /// memberlist's `DefaultLocalConfig`: fast, for loopback and tests (but retransmit
    /// multiplier 4, not 2).
    public static var local: Settings {
        var s = Settings()
        s.probeInterval = .seconds(1)
        s.probeTimeout = .milliseconds(200)
        s.indirectChecks = 1
        // memberlist's local profile uses 2, which leaves one node in a run missing news until
        // anti-entropy (measured: 23–44 s tails at N=100); loopback bandwidth is free.
        s.retransmitMultiplier = 4
        s.suspicionMultiplier = 3
        s.pushPullInterval = .seconds(15)
        s.stateSyncInterval = .seconds(2)
        s.gossipInterval = .milliseconds(100)
        s.gossipToTheDeadTime = .seconds(15)
        s.streamTimeout = .seconds(1)
        s.reconnectInterval = .seconds(5)
        s.joinSyncDelays = [.milliseconds(250), .milliseconds(750), .milliseconds(1750)]
        return s
    }

    /// A named profile: `lan`, `wan` or `local`.
    public static func profile(named name: String) -> Settings? {
        switch name {
        case "lan": .lan
        case "wan": .wan
        case "local": .local
        default: nil
        }
    }
}

extension Settings {
    /// Retransmit limit for a swarm of `n` members: `mult · ⌈log10(n + 1)⌉`.
    package func retransmitLimit(members n: Int) -> Int {
        retransmitMultiplier * max(1, PureMath.ceilLog10(max(1, n) + 1))
    }

    /// Lifeguard's minimum suspicion timeout: `α · max(1, log10 N) · T`, rounded to the
    /// millisecond (memberlist floors; log10 of a power of ten is inexact here). Computed in
    /// `Double` on T's whole nanoseconds.
    package func suspicionMinimum(members n: Int) -> Duration {
        let scale = max(1.0, PureMath.log10(Double(max(1, n))))
        let ms = (Double(suspicionMultiplier) * scale * Double(probeInterval.nanosecondsInt64) / 1_000_000).rounded()
        return .milliseconds(Int64(ms))
    }

    /// The wait after failed join attempt `attempt` (counted from 1): `joinRetryInitial`,
    /// doubled per further attempt (at most 16 times), capped at `joinRetryMax`.
    package func joinRetryDelay(afterAttempt attempt: Int) -> Duration {
        let doublings = min(max(0, attempt - 1), 16)
        return min(joinRetryInitial * (1 << doublings), joinRetryMax)
    }

    /// The period of state anti-entropy, grown as `pushPullPeriod`.
    package func stateSyncPeriod(members n: Int) -> Duration {
        stateSyncInterval * pushPullScale(members: n)
    }

    /// The period of digest anti-entropy: `pushPullInterval`, grown above 32 members.
    package func pushPullPeriod(members n: Int) -> Duration {
        pushPullInterval * pushPullScale(members: n)
    }

    /// memberlist's `pushPullScale`: the anti-entropy period grows with log2 N above 32
    /// (×(⌈log2 N⌉ − 5 + 1)).
    func pushPullScale(members n: Int) -> Int {
        guard n > 32 else { return 1 }
        return max(1, PureMath.ceilLog2(n) - 5 + 1)
    }
}
