/// Knobs of the hive (docs/design.md §5). Times follow Raft's: heartbeats well inside the
/// election timeout, randomised timeouts an order above the round trip.
public struct HiveSettings: Sendable, Hashable {
    /// Form cells and route through queens. Off: pure gossip.
    public var enabled = false
    /// A queen's lease heartbeat period. Default 50 ms.
    public var heartbeatInterval: Duration = .milliseconds(50)
    /// Randomised election timeout, and the stickiness window: a voter that heard its queen
    /// within the minimum votes for no one. Default 150–300 ms.
    public var electionTimeoutMin: Duration = .milliseconds(150)
    public var electionTimeoutMax: Duration = .milliseconds(300)
    /// Check-quorum: a queen that has had no majority-acknowledged heartbeat round for this
    /// long steps down. It was `electionTimeoutMin`, three heartbeat rounds (two on a real
    /// event loop, whose timers fire a little late): under 10 % loss per host a small cell's
    /// queen lost two rounds of acks from a majority within seconds, and real cells changed
    /// queens every second or so (issue 17). Safety never rested on it — the lease does, and
    /// the lease is unchanged; a queen past her lease serves nothing that needs it. Stepping
    /// down is only how a queen cut off from her cell stops routing, and workers elect a new
    /// one on their own election timeouts whatever she does. Default 600 ms (twelve rounds).
    public var quorumTimeout: Duration = .milliseconds(600)
    /// The queen's lease lasts this fraction of `electionTimeoutMin` after the round a
    /// majority acknowledged: the margin covers clock-rate drift between members. Default 0.9.
    public var leaseFraction: Double = 0.9
    /// A cell takes no more voters than this (the queen's high-water mark); a queen whose
    /// cell reaches it breeds: she hands about half her workers to a new cell. Default 64.
    public var cellHighWater = 64
    /// A cell smaller than this (and than a quarter of `cellHighWater`, so the halves of a
    /// split never merge back) for `mergeAfter`, while a cell at least its size has room
    /// for its members, dissolves: its members enlist with the nearest open cells. Default 8.
    public var cellLowWater = 8
    public var mergeAfter: Duration = .seconds(5)
    /// Cells form only in swarms of at least this many live members. Default 8.
    public var minimumMembers = 8
    /// Members younger than this do not found cells or stand for election. Default 2 s.
    public var minimumUptime: Duration = .seconds(2)
    /// How often a member outside any cell looks for one (and founds one if none is open).
    public var homeInterval: Duration = .milliseconds(500)
    /// Founding delay scale: a homeless member founds after a random delay in
    /// `[0, foundSpacing · min(live / 2, cellHighWater)]`, so about two founders appear per
    /// spacing while claims spread. Default 500 ms.
    public var foundSpacing: Duration = .milliseconds(500)
    /// A queen drops a voter that acknowledged nothing for this long. Default 2 s.
    public var workerTimeout: Duration = .seconds(2)
    /// A worker that saw no queen for this long leaves the cell (its majority is gone).
    /// Default 3 s.
    public var abandonAfter: Duration = .seconds(3)
    /// How often a worker compares its queen with the other open cells', and how much
    /// nearer another must be for it to move: a measured round trip under `rehomeFactor` ×
    /// that to its own. Defaults 2 s and 0.9.
    public var rehomeInterval: Duration = .seconds(2)
    public var rehomeFactor = 0.9
    /// The open cells nearest by coordinates whose queens a worker times. Default 2.
    public var rehomeCandidates = 2
    /// A queen's round trip, once sampled enough, is timed again after this. Default 30 s.
    public var rehomeMeasureInterval: Duration = .seconds(30)
    /// How often a worker times one other open cell's queen, picked at random (coordinates
    /// misplace some pairs badly). Default 10 s.
    public var rehomeExploreInterval: Duration = .seconds(10)
    /// Not before this node's coordinate has settled (its Vivaldi error estimate at most
    /// this): early estimates are noise, and moving on noise churns cells. Default 0.2.
    public var rehomeMaxError = 0.2
    /// A queen re-announces her claim at least this often. Default 10 s.
    public var claimRefresh: Duration = .seconds(10)
    /// Members told lazily of each routed broadcast (Plumtree's lazy push). Default 2.
    public var lazyFanout = 2
    /// An announced id not received by then is pulled (graft). Default 100 ms.
    public var graftTimeout: Duration = .milliseconds(100)
    /// A member sends up or down the tree at most this often a second (in bursts of up to
    /// `relayBurst`), everything that waits packed together; nothing waits while the swarm
    /// is quiet. Defaults 200 and 20: well under the 400 packets a second a member takes
    /// from one sender (`TrustSettings.packetsPerSecond`), with room for heartbeats.
    public var relayPerSecond: Double = 200
    public var relayBurst: Double = 20
    /// Routed broadcasts kept to answer grafts. Default 4,096.
    public var routedCacheSize = 4096
    /// Distinct accusers (the queen included) a queen waits for before she evicts a member
    /// by reputation; never fewer than `Eviction.minimumAccusers` (2). Default 2.
    public var evictionAccusers = 2
    /// How long an eviction keeps its identity out, unless lifted. Default 1 hour.
    public var evictionTTL: Duration = .seconds(3600)

    public init() {}

    /// The size under which a cell merges: `cellLowWater`, but never above a quarter of
    /// `cellHighWater` (the halves of a split must stay clear of it).
    package var lowWaterMark: Int { min(cellLowWater, cellHighWater / 4) }

    /// The lease after a majority-acknowledged round: `leaseFraction` of `electionTimeoutMin`,
    /// in whole nanoseconds.
    package var lease: Duration { electionTimeoutMin.scaled(by: leaseFraction) }

    /// For the WAN profile: a few WAN round trips per heartbeat.
    public static var wan: HiveSettings {
        var h = HiveSettings()
        h.heartbeatInterval = .milliseconds(500)
        h.electionTimeoutMin = .milliseconds(1500)
        h.electionTimeoutMax = .milliseconds(3000)
        h.quorumTimeout = .seconds(6)
        h.workerTimeout = .seconds(10)
        h.abandonAfter = .seconds(15)
        h.homeInterval = .seconds(2)
        h.foundSpacing = .seconds(2)
        h.graftTimeout = .milliseconds(1000)
        return h
    }
}
