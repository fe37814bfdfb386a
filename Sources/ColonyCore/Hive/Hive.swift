/// A node's part in the hive (docs/design.md §5), as its core sees it: its role, cell, term and
/// queen, the roster, every cell's claim, and the queen's lease and rounds. Handlers:
/// `NodeCore+Hive`; broadcasts go down the tree through `Router`.
public struct Hive: Sendable {
    /// The hive's timers (see `NodeCore.fire`).
    enum Timer: Sendable, Equatable {
        /// A queen's heartbeat round.
        case heartbeat
        /// A worker's election check (and a candidate's election timeout).
        case election
        /// A homeless member's search for a cell (and a worker's re-homing look).
        case home
    }

    public enum Role: String, Sendable, Equatable {
        /// In no cell.
        case homeless
        case worker
        /// Asking for pre-votes (term not yet raised).
        case preCandidate
        case candidate
        case queen
    }

    /// What the hive counts (exported through `NodeCore.stats`).
    public internal(set) var stats = HiveStats()
    public internal(set) var role: Role = .homeless
    public internal(set) var cell: CellID?
    public internal(set) var term: UInt64 = 0
    /// The queen of `term`, once known.
    public internal(set) var queen: NodeID?
    public internal(set) var roster: Roster?
    /// Every cell's latest claim (looked up; iterate `cells.keys.sorted()` for order).
    public internal(set) var cells: [CellID: QueenClaim] = [:]
    /// Queen only: until when she holds the lease (nil: none yet).
    public internal(set) var leaseUntil: Instant?

    /// When this member last heard its queen (the stickiness window starts here).
    var heardQueenAt: Instant?
    /// When a worker with no queen campaigns.
    var electionDeadline: Instant?
    var electionArmed = false
    var votes: Set<NodeID> = []
    var lastQueenAt: Instant = .zero

    // Queen.
    var round: UInt64 = 0
    var roundSentAt: [UInt64: Instant] = [:]
    var acked: [NodeID: (round: UInt64, version: RosterVersion, at: Instant)] = [:]
    var committed: RosterVersion = .zero
    var pending: [(add: Bool, voter: Voter)] = []
    var electedAt: Instant = .zero
    var claimSerial: UInt64 = 0
    var claimedAt: Instant = .zero
    var claimedSize: UInt32 = 0
    var heartbeatArmed = false
    /// Breeding under way: the new cell, its designated queen and the voters handed to it
    /// (removed from our roster one at a time, the designate last).
    struct Split {
        var cell: CellID
        var designate: Voter
        var voters: [Voter]
        var at: Instant
    }
    var split: Split?
    /// Voters just removed, told so with the next heartbeat round.
    var farewell: [Voter] = []
    /// Since when the cell is below its low-water mark.
    var lowSince: Instant?

    // Homeless (and, for workers, re-homing).
    /// When the home timer fires next (nil: not armed).
    var homeAt: Instant?
    var enlisting: (cell: CellID, at: Instant)?
    var refusedBy: [CellID: Instant] = [:]
    var foundAt: Instant?
    /// Nearness pings in flight, and the latest round trips to queens (seconds).
    var nearPings: [UInt32: (peer: NodeID, sentAt: Instant)] = [:]
    var nearness: [NodeID: [(rtt: Double, at: Instant)]] = [:]
    var exploreAt: Instant = .zero
    /// Deposed: stand for no election and found no cell until then.
    var sitOutUntil: Instant?
    /// Queen: accusations held, per accused, per accuser (the newest of each).
    var accusations: [NodeID: [NodeID: Accusation]] = [:]

    // Nearness and identity as a voter.
    /// This node's network coordinate (Vivaldi), placed by direct round trips.
    public internal(set) var vivaldi = VivaldiClient()
    /// The last coordinate each peer reported on an ack (looked up only).
    public internal(set) var peerCoordinates: [NodeID: Coordinate] = [:]
    var rng = Xoshiro256(seed: 0x417E)
    /// The vote this run cast last, per cell it belonged to (kept after leaving the cell).
    var lastVotes: [CellID: (term: UInt64, candidate: NodeID)] = [:]
    /// The incarnation this process started with: its identity as a voter (Cell.swift).
    public internal(set) var boot: UInt64 = 0
    /// When this process started (uptime, for hive eligibility).
    var bootedAt: Instant = .zero

    public init() {}

    /// A randomised election timeout, nanoseconds in [min, max) (Raft §5.2: split votes are rare).
    mutating func randomElectionTimeout(_ settings: HiveSettings) -> Int64 {
        let lo = settings.electionTimeoutMin.nanosecondsInt64
        let hi = max(lo + 1, settings.electionTimeoutMax.nanosecondsInt64)
        return lo + Int64(rng.below(Int(hi - lo)))
    }

    init(boot: UInt64, bootedAt: Instant, rng: Xoshiro256) {
        self.boot = boot
        self.bootedAt = bootedAt
        self.rng = rng
    }
}
