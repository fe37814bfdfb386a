import ColonyCore

/// One run: the scenario, the swarm, the seed, the network's faults and the flags every
/// scenario shares; then each scenario's own options. The fields are the flags of `colony
/// simulate` as given: `reproduceCommand` prints them back, `init(reproducing:)` reads them
/// (ReproduceCommand.swift).
public struct SimulationOptions: Sendable, Equatable {
    public var scenario: ScenarioKind
    public var nodes: Int
    public var seed: UInt64
    public var profile: String
    public var loss: Double = 0
    public var duplicate: Double = 0
    public var reorder: Double = 0
    /// `--duration`, in virtual seconds as given: how long a scenario's workload or fault
    /// lasts. Each scenario reads it as a span with its own default (`duration`).
    public var durationSeconds: Double?
    /// Overrides the profile's suspicion multiplier α.
    public var suspicionMultiplier: Int?
    /// Per-node clock rate error bound (default 0.01 in the hive scenarios, else 0).
    public var clockDrift: Double?
    /// Trust as before issue 17 (`TrustSettings.lossTolerant` false): a negative control.
    public var strictHelperAudit = false
    /// Print every death verdict of a member that is up (who, whom, when), for debugging.
    public var debugDeaths = false
    /// The hive's messages carry piggybacked news, as before issue 17 (a negative control).
    public var newsOnHiveMessages = false
    /// Timers fire up to this many ms late (uniform); default 2 in the host-fault scenarios
    /// (loss, gray, oneway, flipflop, stall, kill), 0 elsewhere.
    public var timerLatenessMs: Double?
    /// Overrides the hive's check-quorum timeout (`HiveSettings.quorumTimeout`), in ms: 150 is
    /// the window before issue 17 (a negative control).
    public var quorumTimeoutMs: Double?
    /// No flap damping (`Settings.flapThreshold` 0), as before issue 17 (a negative control).
    public var noFlapDamping = false
    /// crash, pause.
    public var crash = CrashOptions()
    /// What the hive scenarios share: hive, queen-loss, split, hive-safety, evict.
    public var hive = HiveOptions()
    /// queen-loss.
    public var queenLoss = QueenLossOptions()
    /// split.
    public var split = SplitOptions()
    /// evict.
    public var evict = EvictOptions()
    /// loss, gray, oneway, flipflop, stall.
    public var hostFault = HostFaultOptions()

    public init(scenario: ScenarioKind, nodes: Int, seed: UInt64, profile: String = "lan") {
        self.scenario = scenario
        self.nodes = nodes
        self.seed = seed
        self.profile = profile
    }

    public var seedText: String { "0x" + String(seed, radix: 16) }

    /// How long the scenario's workload or fault lasts: `--duration` in whole nanoseconds, or
    /// the scenario's default; zero for the scenarios that take none (and for `hive` without
    /// `--duration`, which then does not settle after its broadcasts). The host faults round
    /// to the nearest nanosecond and the others truncate, as each always has.
    public var duration: Duration {
        switch scenario {
        // Nothing happens for this long.
        case .steady: .seconds(truncating: durationSeconds ?? 600)
        // Of writes (state-chaos), of attack (abuse, evict).
        case .stateChaos, .abuse, .evict, .byzantine: .seconds(truncating: durationSeconds ?? 60)
        // Of faults.
        case .hiveSafety: .seconds(truncating: durationSeconds ?? 30)
        // Of settling coordinates after the broadcasts.
        case .hive: .seconds(truncating: durationSeconds ?? 0)
        // Of the faulty host's fault.
        case .loss: .seconds(rounding: durationSeconds ?? 120)
        case .gray, .oneway: .seconds(rounding: durationSeconds ?? 90)
        case .flipflop: .seconds(rounding: durationSeconds ?? 160)
        case .join, .crash, .pause, .bootstrap, .partition, .write, .queenLoss, .split, .kill, .stall: .zero
        }
    }
}

/// The crash and pause scenarios' options.
public struct CrashOptions: Sendable, Equatable {
    /// What kind of crash they inflict: a vanished host (default) or a dead process on a
    /// live host, whose port refuses connections.
    public var kind: Simulator.CrashKind = .host

    public init() {}
}

/// What the hive scenarios share (hive, queen-loss, split, hive-safety, evict).
public struct HiveOptions: Sendable, Equatable {
    /// hive, queen-loss, split: form cells (false: plain gossip, for comparison).
    public var formCells = true
    /// hive, queen-loss, split, evict: how many broadcasts to send (default 200).
    public var broadcasts: Int?
    /// Overrides the hive's lease fraction (a negative control: above 1, a lease outlasts
    /// the voters' stickiness and the lease check must catch it).
    public var leaseFraction: Double?

    public init() {}

    var broadcastCount: Int { broadcasts ?? 200 }

    /// Apply these options to the settings of a `scenario` run, or throw why they are
    /// invalid.
    func configure(_ settings: inout Settings, for scenario: ScenarioKind) throws {
        if scenario.isHive { settings.hive.enabled = formCells }
        if let f = leaseFraction {
            guard f > 0 && f < 100 else { throw SimulationError.badLeaseFraction(f) }
            settings.hive.leaseFraction = f
        }
    }
}

/// The queen-loss scenario's options.
public struct QueenLossOptions: Sendable, Equatable {
    /// Queens to crash one at a time (default 20).
    public var rounds: Int?
    /// The fraction of nodes crashed at once at the end (default 0.2).
    public var killFraction: Double?

    public init() {}

    var roundCount: Int { rounds ?? 20 }
    var killShare: Double { killFraction ?? 0.2 }

    func validate() throws {
        if let k = killFraction, !(k >= 0 && k < 1) { throw SimulationError.badProbability("--kill", k) }
    }
}

/// The split scenario's options.
public struct SplitOptions: Sendable, Equatable {
    /// Nodes that join the formed hive (default: as many as it has).
    public var joiners: Int?

    public init() {}
}

/// The evict scenario's options.
public struct EvictOptions: Sendable, Equatable {
    /// Misbehaving members (default max(2, N/50)).
    public var offenders: Int?
    /// How long evictions last, seconds (default 90).
    public var evictTTLSeconds: Double?

    public init() {}

    func offenderCount(nodes n: Int) -> Int { offenders ?? max(2, n / 50) }

    /// How long evictions last, in whole milliseconds (truncated).
    var evictionTTL: Duration { .milliseconds(Int64((evictTTLSeconds ?? 90) * 1000)) }
}

/// The host-fault scenarios' options (loss, gray, oneway, flipflop, stall).
public struct HostFaultOptions: Sendable, Equatable {
    /// loss, gray, oneway, flipflop: the faulty host's loss (default 0.1 for every host in
    /// `loss`; 0.8 in gray and oneway; flipflop 1).
    public var loss: Double?
    /// flipflop: seconds on, then seconds off (default 20).
    public var periodSeconds: Double?
    /// stall: how long each stall lasts (default 1.5 s) and how many (default 15).
    public var stallSeconds: Double?
    public var stalls: Int?

    public init() {}

    /// flipflop: how long the fault is on, then off (to the nearest nanosecond).
    var period: Duration { .seconds(rounding: periodSeconds ?? 20) }
    /// stall: how long each stall lasts (to the nearest nanosecond), and how many.
    var stall: Duration { .seconds(rounding: stallSeconds ?? 1.5) }
    var stallCount: Int { stalls ?? 15 }

    func validate() throws {
        if let loss, !(loss >= 0 && loss <= 1) { throw SimulationError.badProbability("--host-loss", loss) }
        if let p = periodSeconds, !(p >= 1 && p <= 3_600) { throw SimulationError.outOfRange("--period", 1, 3_600) }
        if let s = stallSeconds, !(s >= 0.01 && s <= 60) { throw SimulationError.outOfRange("--stall", 0.01, 60) }
        if let n = stalls, !(n >= 1 && n <= 10_000) { throw SimulationError.outOfRange("--stalls", 1, 10_000) }
    }
}

/// Why a run's options are invalid.
public enum SimulationError: Error, CustomStringConvertible {
    case unknownProfile(String)
    case tooFewNodes(Int, minimum: Int)
    case badProbability(String, Double)
    case badDrift(Double)
    case badLeaseFraction(Double)
    case outOfRange(String, Double, Double)
    /// Not a command `reproduceCommand` prints (a report's `reproduce` field).
    case notAReproduceCommand(String)

    public var description: String {
        switch self {
        case .unknownProfile(let p): "unknown profile '\(p)' (expected lan, wan or local)"
        case .tooFewNodes(let n, let min): "--nodes \(n) is too few for this scenario (minimum \(min))"
        case .badProbability(let name, let p): "\(name) must be in [0, 1), got \(p)"
        case .badDrift(let d): "--drift must be in [0, 0.5), got \(d)"
        case .badLeaseFraction(let f): "--lease-fraction must be in (0, 100), got \(f)"
        case .outOfRange(let name, let lo, let hi): "\(name) must be between \(lo) and \(hi)"
        case .notAReproduceCommand(let why): "not a command that replays a run: \(why)"
        }
    }
}
