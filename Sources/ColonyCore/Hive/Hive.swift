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
    /// Where this member stands, with the data only that standing has (Standing.swift:
    /// `role`, `cell`, `term`, `queen`, `roster` and `leaseUntil` are read from it).
    var standing: Standing = .homeless(Search())
    /// Every cell's latest claim (looked up; iterate `cells.keys.sorted()` for order).
    public internal(set) var cells: [CellID: QueenClaim] = [:]

    // Timers armed (a timer fires once; these keep one of each in the queue).
    var electionArmed = false
    var heartbeatArmed = false
    /// When the home timer fires next (nil: not armed).
    var homeAt: Instant?

    // Kept across standings.
    /// The serial of this node's last claim (claims of one cell supersede by it).
    var claimSerial: UInt64 = 0
    /// Cells whose queen refused us (or never answered), and when.
    var refusedBy: [CellID: Instant] = [:]
    /// Queen: accusations held, per accused, per accuser (the newest of each).
    var accusations: [NodeID: [NodeID: Accusation]] = [:]
    /// Deposed: stand for no election and found no cell until then.
    var sitOutUntil: Instant?

    // Re-homing.
    /// Nearness pings in flight, and the latest round trips to queens (seconds).
    var nearPings: [UInt32: (peer: NodeID, sentAt: Instant)] = [:]
    var nearness: [NodeID: [(rtt: Double, at: Instant)]] = [:]
    var exploreAt: Instant = .zero

    // Nearness and identity as a voter.
    /// This node's network coordinate (Vivaldi), placed by direct round trips.
    package internal(set) var vivaldi = VivaldiClient()
    /// The last coordinate each peer reported on an ack (looked up only).
    public internal(set) var peerCoordinates: [NodeID: Coordinate] = [:]
    var rng = Xoshiro256(seed: 0x417E)
    /// The vote this run cast last, per cell it belonged to (kept after leaving the cell).
    var lastVotes: [CellID: (term: UInt64, candidate: NodeID)] = [:]
    /// The incarnation this process started with: its identity as a voter (Cell.swift).
    package internal(set) var boot: UInt64 = 0
    /// When this process started (uptime, for hive eligibility).
    var bootedAt: Instant = .zero

    package init() {}

    /// A randomised election timeout in [min, max), whole nanoseconds (Raft §5.2: split votes
    /// are rare).
    mutating func randomElectionTimeout(_ settings: HiveSettings) -> Duration {
        let lo = settings.electionTimeoutMin
        let hi = max(lo + .nanoseconds(1), settings.electionTimeoutMax)
        return lo + rng.duration(below: hi - lo)
    }

    init(boot: UInt64, bootedAt: Instant, rng: Xoshiro256) {
        self.boot = boot
        self.bootedAt = bootedAt
        self.rng = rng
    }
}
