import ColonyCore

/// What one simulation measured. Times are milliseconds of virtual time.
///
/// The measures every scenario shares sit here; each scenario fills its own report (`state`,
/// `abuse`, `hostFault`; the hive's `hive`, with `queenLoss`, `split`, `hiveSafety` and
/// `evict`), printed only for that scenario. `json` prints it and `Codable` reads it back
/// (ResultJSON.swift, ReportJSON.swift); `table` prints it for people (ResultTable.swift).
public struct SimulationResult: Sendable {
    public var options: SimulationOptions
    public var converged = false
    /// Why the run failed its liveness phase, if it did.
    public var failure: String?

    // MARK: Membership (every scenario)

    public var convergence: Distribution?
    public var detectionFirstMs: Double?
    public var detectionAll: Distribution?
    public var falsePositives: Int?
    public var healMs: Double?
    public var bytesPerNodePerSecond: Double?
    public var messagesPerNodePerSecond: Double?
    /// steady, hive (issue #6): how well Vivaldi coordinates estimate round trips — relative
    /// error |estimated − true| / true over random pairs of live nodes.
    public var rttError: Distribution?
    /// (milliseconds since the news, fraction of nodes that know it).
    public var timeline: [(ms: Double, fraction: Double)] = []
    /// What the timeline's "news" is, for plots.
    public var newsLabel = ""

    // MARK: The run (metrics and checkers)

    public var wallSeconds: Double = 0
    public var peakMemoryBytes: Int = 0
    public var virtualSeconds: Double = 0
    public var steps = 0
    public var traceHash: UInt64 = 0
    /// Invariants the checkers found violated (the first 100).
    public var violations: [String] = []
    /// At most one queen per cell per term, and no two lease holders of a cell at once.
    public var safetyViolations = 0
    /// Messages and bytes sent over the whole run, by message kind.
    public var messagesByKind: [String: Int] = [:]
    public var bytesByKind: [String: Int] = [:]

    // MARK: The scenarios' own reports

    /// write, state-chaos.
    public var state = StateReport()
    /// abuse.
    public var abuse = AbuseReport()
    /// What every hive scenario measures: hive, queen-loss, split, hive-safety, evict.
    public var hive = HiveReport()
    /// queen-loss.
    public var queenLoss = QueenLossReport()
    /// split.
    public var split = SplitReport()
    /// hive-safety.
    public var hiveSafety = HiveSafetyReport()
    /// evict.
    public var evict = EvictReport()
    /// loss, gray, oneway, flipflop, stall, kill.
    public var hostFault = HostFaultReport()

    /// Passed: no invariant violated and the liveness phase converged.
    public var passed: Bool {
        violations.isEmpty && converged && failure == nil && (state.lostWrites ?? 0) == 0
            && (state.falseSiblings ?? 0) == 0
    }

    public init(options: SimulationOptions) { self.options = options }
}

/// The replicated-state scenarios' report (issue #4): write and state-chaos.
public struct StateReport: Sendable, Equatable {
    public var acknowledgedWrites: Int?
    public var lostWrites: Int?
    public var divergentNodes: Int?
    public var falseSiblings: Int?
    /// Most siblings any key had at any node (concurrent writes really happened).
    public var maxSiblings: Int?
    /// state-chaos: after faults stop, until every live node holds the same records (healMs
    /// is until membership has converged too).
    public var stateConvergedMs: Double?

    public init() {}
}

/// The host-fault scenarios' report (issue 17): what the swarm saw of one faulty host, as
/// scripts/netharness.py reports the same faults on real agents.
public struct HostFaultReport: Sendable, Equatable {
    /// The faulty host's index.
    public var host: Int?
    /// Times any observer declared the faulty host dead, and how many observers ever did.
    public var hostDeaths: Int?
    public var hostDeathObservers: Int?
    /// Changes of the faulty host between live (alive, suspect) and gone in the others'
    /// views: flapping, as the harness counts it.
    public var hostStatusChanges: Int?
    /// Healthy members the faulty host declared dead (its own blindness, not a false death).
    public var deathsSeenOnlyByHost: Int?
    /// Suspicions of healthy members (transitions into suspect), all refuted or not.
    public var healthySuspicions: Int?
    /// After the fault ended: until every node sees every member alive (ms).
    public var recoveredMs: Double?
    /// Queen terms begun while the fault lasted (elections won and cells founded), and the
    /// reasons queens stepped down meanwhile (with the hive on).
    public var queenTermsDuringFault: Int?
    public var stepDownsDuringFault: [String: Int]?

    public init() {}
}

/// The abuse scenario's report (issue #5).
public struct AbuseReport: Sendable, Equatable {
    /// Honest (node, write or event) pairs delivered ÷ all such pairs.
    public var honestDeliveryRatio: Double?
    public var offenders: Int?
    /// Offenders graylisted by at least one honest node; honest nodes graylisted by any.
    public var offendersGraylisted: Int?
    public var honestGraylisted: Int?
    /// Gossip rounds from the first offence an honest node met to its graylisting of the
    /// offender: the worst pair, and the worst per kind of offender.
    public var graylistRoundsMax: Int?
    public var graylistRoundsByKind: [String: Int] = [:]
    /// (honest node, offender) pairs that met an offence and never graylisted.
    public var offencePairsNotGraylisted: Int?

    public init() {}
}

/// What every hive scenario measures (issue #6): the hive's shape when it formed, the
/// broadcasts sent through it, nearness and honest members evicted. Each scenario fills the
/// part it measures; queen-loss, split, hive-safety and evict add reports of their own.
public struct HiveReport: Sendable, Equatable {
    /// Cells formed and their sizes, when every node first routed through a leased queen
    /// (ms of virtual time).
    public var cells: Int?
    public var cellSizes: Distribution?
    public var hiveFormedMs: Double?
    /// Broadcasts sent; (node, broadcast) pairs delivered ÷ expected; relative message
    /// redundancy (payloads sent ÷ (N − 1) per broadcast, minus 1); last delivery hop (the
    /// most hops any delivery took); time from each broadcast to its last delivery.
    public var broadcasts: Int?
    public var deliveryRatio: Double?
    public var rmr: Double?
    public var ldh: Int?
    public var broadcastLatency: Distribution?
    /// Packets refused by rate limits, all nodes, the whole run (honest senders should trip
    /// none: a queen relays the swarm's events to every worker).
    public var rateLimited: Int?
    /// Per worker, the true RTT to its queen ÷ the true RTT to the nearest queen with room
    /// (its own included), at the end of the run.
    public var queenRTTRatio: Distribution?
    /// hive-safety, evict: honest members evicted anywhere (must be 0).
    public var honestEvicted: Int?

    public init() {}
}

/// The queen-loss scenario's report: queens crashed one at a time, then many nodes at once.
public struct QueenLossReport: Sendable, Equatable {
    /// Crash → a majority of the cell follows a new queen; crash → elected.
    public var failover: Distribution?
    public var electionMs: Distribution?
    /// Nodes crashed at once at the end.
    public var killed: Int?

    public init() {}
}

/// The split scenario's report.
public struct SplitReport: Sendable, Equatable {
    /// Cells that bred, and each split's time from the queen's decision until every live
    /// voter she handed over follows the new cell's queen; splits that never completed.
    public var splits: Int?
    public var splitTime: Distribution?
    public var splitsIncomplete: Int?
    /// Cells dissolved below their low-water mark, and the time from the shrink until all
    /// their remaining members route through other cells.
    public var merges: Int?
    public var mergeTime: Distribution?

    public init() {}
}

/// The hive-safety scenario's report (its safety is the shared `safetyViolations`).
public struct HiveSafetyReport: Sendable, Equatable {
    /// Faults injected (queens cut off, members paused).
    public var faults: Int?

    public init() {}
}

/// The evict scenario's report.
public struct EvictReport: Sendable, Equatable {
    /// Offenders, and those evicted (known to every honest member); from the attack's start
    /// until every honest member refuses an offender; from a lift, and from an expiry, until
    /// every honest member holds it alive again; offenders found in a cell's roster while
    /// evicted.
    public var offenders: Int?
    public var offendersEvicted: Int?
    public var evictTime: Distribution?
    public var liftTime: Distribution?
    public var readmitTime: Distribution?
    public var evictedInRoster: Int?
    /// The byzantine scenario: offenders graylisted by some honest member or evicted; honest
    /// members some honest member held dead at the end; hostile packets sent.
    public var offendersGraylisted: Int?
    public var honestDead: Int?
    public var hostilePackets: Int?

    public init() {}
}
