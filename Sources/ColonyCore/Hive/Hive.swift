/// The hive (DESIGN.md §5): cells, each with one elected queen that routes broadcasts.
///
/// A cell is a Raft group whose only replicated entry is its **roster** (who votes). Its
/// queen is elected Raft-style — terms, randomised timeouts, pre-vote, one vote per voter
/// per term, a majority of the roster — and holds a **lease** renewed by heartbeats that a
/// majority acknowledges. Voters refuse to vote for anyone within `electionTimeoutMin` of
/// hearing their queen, and the queen's lease ends `leaseFraction` of that after the round a
/// majority acknowledged, so no two queens of one cell hold a lease at once (Raft thesis
/// §6.4.1). Roster changes are Raft's single-server changes: one voter at a time, each
/// committed by a majority of the new roster before the next, and a new queen first commits
/// an entry of her own term (the fix Ongaro gave in 2015 for the single-server-change bug).
///
/// Voters are runs of a process, not identities: a restarted node forgot its votes, so it
/// comes back as a new voter (`boot` = its incarnation at start, strictly higher) that only
/// a committed roster change admits. No vote needs to be made durable.
public struct CellID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: CellID, b: CellID) -> Bool { a.raw < b.raw }
    public var description: String { String(raw, radix: 16) }
}

/// One run of a member's process in a cell's roster.
public struct Voter: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var id: NodeID
    /// The member's incarnation when the process started.
    public var boot: UInt64
    public init(id: NodeID, boot: UInt64) {
        self.id = id
        self.boot = boot
    }
    public static func < (a: Voter, b: Voter) -> Bool { (a.id, a.boot) < (b.id, b.boot) }
    public var description: String { "\(id)@\(boot)" }
}

/// Which roster is newer: Raft's (last log term, last log index).
public struct RosterVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var term: UInt64
    public var index: UInt64
    public init(term: UInt64, index: UInt64) {
        self.term = term
        self.index = index
    }
    public static let zero = RosterVersion(term: 0, index: 0)
    public static func < (a: RosterVersion, b: RosterVersion) -> Bool { (a.term, a.index) < (b.term, b.index) }
    public var description: String { "\(term).\(index)" }
}

/// Who votes in a cell, at a version.
public struct Roster: Hashable, Sendable {
    public var cell: CellID
    public var version: RosterVersion
    /// Sorted, distinct.
    public private(set) var voters: [Voter]

    public init(cell: CellID, version: RosterVersion, voters: [Voter]) {
        self.cell = cell
        self.version = version
        self.voters = Array(Set(voters)).sorted()
    }

    public var count: Int { voters.count }
    /// Votes (or acknowledgements) that make a majority.
    public var majority: Int { voters.count / 2 + 1 }
    public func contains(_ v: Voter) -> Bool { voters.contains(v) }
    public func voter(for id: NodeID) -> Voter? { voters.first { $0.id == id } }

    mutating func insert(_ v: Voter) {
        guard !voters.contains(v) else { return }
        voters.append(v)
        voters.sort()
    }

    mutating func remove(_ v: Voter) { voters.removeAll { $0 == v } }
}

/// A queen's announcement to the whole swarm: she rules `cell` in `term`, with `size`
/// voters, at `coordinate`. Spread by gossip like membership news (newest `(term, serial)`
/// per cell wins) and signed by the queen. Workers pick the nearest open cell from these;
/// queens forward broadcasts to each other through them. `size == 0`: the cell dissolved.
public struct QueenClaim: Hashable, Sendable {
    public var cell: CellID
    public var term: UInt64
    public var queen: NodeID
    public var address: Address
    /// Bumped for every new claim of the same term (size changes, refreshes).
    public var serial: UInt64
    public var size: UInt32
    /// Room for more workers.
    public var open: Bool
    public var coordinate: Coordinate
    public var signature: Signature?

    public init(
        cell: CellID, term: UInt64, queen: NodeID, address: Address, serial: UInt64, size: UInt32, open: Bool,
        coordinate: Coordinate, signature: Signature? = nil
    ) {
        self.cell = cell
        self.term = term
        self.queen = queen
        self.address = address
        self.serial = serial
        self.size = size
        self.open = open
        self.coordinate = coordinate
        self.signature = signature
    }

    public var peer: Peer { Peer(id: queen, address: address) }
    public var dissolved: Bool { size == 0 }

    /// True if this claim supersedes `other` (same cell).
    public func supersedes(_ other: QueenClaim) -> Bool { (term, serial) > (other.term, other.serial) }
}

/// The election, lease and roster protocol of a cell.
public enum HiveMessage: Sendable, Equatable {
    /// Would you vote for me in `term` (not yet mine)? Changes nothing at the voter.
    case preVote(cell: CellID, term: UInt64, version: RosterVersion, boot: UInt64)
    case preVoteReply(cell: CellID, term: UInt64, granted: Bool)
    /// Raft's RequestVote; the roster version stands for the log.
    case requestVote(cell: CellID, term: UInt64, version: RosterVersion, boot: UInt64, signature: Signature?)
    case vote(cell: CellID, term: UInt64, candidate: NodeID, granted: Bool, boot: UInt64, signature: Signature?)
    /// The queen's lease heartbeat, round `round`; carries the roster when the worker's is older.
    case heartbeat(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, roster: [Voter]?, signature: Signature?)
    /// `coordinate`: the worker's network coordinate, sent now and then (the queen splits
    /// her cell by them).
    case heartbeatAck(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, boot: UInt64, coordinate: Coordinate?)
    /// A member asks a queen to admit it to her cell.
    case enlist(cell: CellID, boot: UInt64)
    /// The queen's answer; on acceptance a heartbeat carrying a roster with it follows.
    case enlisted(cell: CellID, term: UInt64, accepted: Bool)
    /// A worker leaves the cell (re-homing, leaving the swarm).
    case release(cell: CellID, boot: UInt64)
    /// The queen steps down at once (leaving, deposed, merging): elect without waiting.
    case abdicate(cell: CellID, term: UInt64, dissolve: Bool)
    /// Breeding: the queen of `cell` in `term` removed the receiver from her roster and sends
    /// it to `newCell`, whose roster is `voters` and whose first queen should be `designate`
    /// (the new cell confirms her by vote).
    case breed(cell: CellID, term: UInt64, newCell: CellID, designate: NodeID, voters: [Voter], signature: Signature?)
    /// An operator's order (`colony hive depose`, from any member): the queen of `cell` in
    /// `term` abdicates and sits out the next elections.
    case depose(cell: CellID, term: UInt64, signature: Signature?)
    /// A member's accusation, to its queen (or, when she is the accused, another queen of
    /// `cell`): the accused's score with it fell below the eviction threshold.
    case accuse(cell: CellID, accusation: Accusation)
    /// An operator's order (`colony hive lift`, from any member) to the queen that evicted
    /// `evicted`: lift her eviction. `cell` is the eviction's.
    case lift(cell: CellID, evicted: NodeID, signature: Signature?)
}

/// A queen deposed (or asked to be): her cell, term and id.
public struct Deposal: Sendable, Equatable {
    public var cell: CellID
    public var term: UInt64
    public var queen: NodeID
    /// This node was the queen and has abdicated (false: the order went to her).
    public var local: Bool
}

public enum DeposeError: Error, Equatable, CustomStringConvertible {
    case hiveOff
    /// No queen known for the cell (or this node is in no cell and none was named).
    case noQueen(CellID?)

    public var description: String {
        switch self {
        case .hiveOff: "the hive is off on this node (colony agent --hive)"
        case .noQueen(nil): "this node is in no cell; name one (colony hive shows them)"
        case .noQueen(let c?): "no live queen known for cell \(c)"
        }
    }
}

/// How far a routed broadcast travels from the receiver (the eager-push tree, Plumtree-like).
public enum RouteScope: UInt8, Sendable, Equatable {
    /// To a queen from her worker: forward to the cell and to every other queen.
    case swarm = 0
    /// From a queen: a queen forwards it to her workers; a worker keeps it.
    case cell = 1
    /// An answer to a graft: keep it, forward nothing.
    case leaf = 2
}

/// The id of a routed broadcast, announced lazily (Plumtree's IHAVE) and pulled by graft.
public enum BroadcastID: Hashable, Sendable {
    case record(Dot)
    case event(Dot)
    /// A queen's claim: the directory entry of `cell` at `(term, serial)`. Routed like any
    /// broadcast once the hive stands, so a claim costs about one message per member rather
    /// than gossip's retransmissions to all (claims are what grows with the swarm: one
    /// cell per few dozen members, each refreshing its claim).
    case claim(cell: CellID, term: UInt64, serial: UInt64)

    init?(_ u: Update) {
        switch u {
        case .record(let r): self = .record(r.dot)
        case .event(let e): self = .event(e.id)
        case .query(let q): self = .event(q.id)
        case .queen(let c): self = .claim(cell: c.cell, term: c.term, serial: c.serial)
        case .alive, .suspect, .dead, .left: return nil
        }
    }
}

/// Knobs of the hive (DESIGN.md §5). Times follow Raft's: heartbeats well inside the
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
    public var lowWaterMark: Int { min(cellLowWater, cellHighWater / 4) }

    /// The lease after a majority-acknowledged round.
    public var leaseNanoseconds: Int64 { Int64(Double(electionTimeoutMin.nanosecondsInt64) * leaseFraction) }

    /// For the WAN profile: a few WAN round trips per heartbeat.
    public static var wan: HiveSettings {
        var h = HiveSettings()
        h.heartbeatInterval = .milliseconds(500)
        h.electionTimeoutMin = .milliseconds(1500)
        h.electionTimeoutMax = .milliseconds(3000)
        h.workerTimeout = .seconds(10)
        h.abandonAfter = .seconds(15)
        h.homeInterval = .seconds(2)
        h.foundSpacing = .seconds(2)
        h.graftTimeout = .milliseconds(1000)
        return h
    }
}

/// A broadcast a queen relays: to her cell, to the other queens, not back to `except`.
struct Relay: Sendable {
    var update: Update
    var except: NodeID?
    var toCell: Bool
    var toQueens: Bool
}

/// A node's part in the hive, as its core sees it.
public struct HiveState: Sendable {
    public enum Role: String, Sendable, Equatable {
        /// In no cell.
        case homeless
        case worker
        /// Asking for pre-votes (term not yet raised).
        case preCandidate
        case candidate
        case queen
    }

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

    // Routing.
    var announce: [BroadcastID] = []
    var missing: [BroadcastID: (from: Peer, at: Instant)] = [:]
    var missingOrder: [BroadcastID] = []
    var graftArmed = false
    var routed: [BroadcastID: Update] = [:]
    var routedOrder: [BroadcastID] = []
    var routedHead = 0
    /// Claims waiting for the next gossip round: to send up (a worker's) or to the cell and
    /// the other queens (a queen's), and to the cell only. The newest per cell.
    var claimsUp: [CellID: QueenClaim] = [:]
    var claimsDown: [CellID: QueenClaim] = [:]
    /// Queen: broadcasts waiting for the next paced send (see `paceRelay`), and its budget.
    var relay: [Relay] = []
    var relayArmed = false
    var relayBucket: TokenBucket?

    public init() {}
}
