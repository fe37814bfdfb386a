import ColonyCore

/// One run: the scenario, the swarm, the seed, the network's faults; and each family of
/// scenarios' own options.
public struct SimulationOptions: Sendable {
    public var scenario: ScenarioKind
    public var nodes: Int
    public var seed: UInt64
    public var profile: String
    public var loss: Double = 0
    public var duplicate: Double = 0
    public var reorder: Double = 0
    /// Virtual seconds for `steady` (default 600), of writes for `state-chaos` (default 60),
    /// of attack for `abuse` and `evict` (default 60), of faults for `hive-safety` (default
    /// 30), and for `hive` to settle coordinates after the broadcasts.
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
    /// hive, queen-loss, split, hive-safety, evict.
    public var hive = HiveOptions()
    /// gray, oneway, flipflop, stall.
    public var hostFault = HostFaultOptions()

    public init(scenario: ScenarioKind, nodes: Int, seed: UInt64, profile: String = "lan") {
        self.scenario = scenario
        self.nodes = nodes
        self.seed = seed
        self.profile = profile
    }

    public var seedText: String { "0x" + String(seed, radix: 16) }

    /// The one command that replays this run.
    public var reproduceCommand: String {
        var cmd = "swift run -c release colony simulate --scenario \(scenario.rawValue) --nodes \(nodes)"
        cmd += " --seed \(seedText) --profile \(profile)"
        if loss > 0 { cmd += " --loss \(loss)" }
        if duplicate > 0 { cmd += " --duplicate \(duplicate)" }
        if reorder > 0 { cmd += " --reorder \(reorder)" }
        if let durationSeconds { cmd += " --duration \(durationSeconds)" }
        if let suspicionMultiplier { cmd += " --suspicion-mult \(suspicionMultiplier)" }
        cmd += crash.flags + hive.flags + hostFault.flags
        if let clockDrift { cmd += " --drift \(clockDrift)" }
        if strictHelperAudit { cmd += " --strict-helper-audit" }
        if newsOnHiveMessages { cmd += " --news-on-hive-messages" }
        if noFlapDamping { cmd += " --no-flap-damping" }
        if let timerLatenessMs { cmd += " --timer-lateness \(timerLatenessMs)" }
        if let quorumTimeoutMs { cmd += " --quorum-timeout \(quorumTimeoutMs)" }
        return cmd
    }
}

/// The crash and pause scenarios' options.
public struct CrashOptions: Sendable {
    /// What kind of crash they inflict: a vanished host (default) or a dead process on a
    /// live host, whose port refuses connections.
    public var kind: Simulator.CrashKind = .host

    public init() {}

    /// The flags of `colony simulate` that set these options.
    var flags: String { kind == .process ? " --crash process" : "" }
}

/// The hive scenarios' options.
public struct HiveOptions: Sendable {
    /// hive, queen-loss, split: form cells (false: plain gossip, for comparison).
    public var formCells = true
    /// hive, queen-loss, split, evict: how many broadcasts to send (default 200).
    public var broadcasts: Int?
    /// queen-loss: queens to crash one at a time (default 20).
    public var rounds: Int?
    /// queen-loss: the fraction of nodes crashed at once (default 0.2).
    public var killFraction: Double?
    /// split: nodes that join the formed hive (default: as many as it has).
    public var joiners: Int?
    /// Overrides the hive's lease fraction (a negative control: above 1, a lease outlasts
    /// the voters' stickiness and the lease check must catch it).
    public var leaseFraction: Double?
    /// evict: misbehaving members (default max(2, N/50)) and how long evictions last
    /// (seconds, default 90).
    public var offenders: Int?
    public var evictTTLSeconds: Double?

    public init() {}

    /// The flags of `colony simulate` that set these options.
    var flags: String {
        var flags = ""
        if !formCells { flags += " --no-hive" }
        if let broadcasts { flags += " --broadcasts \(broadcasts)" }
        if let rounds { flags += " --rounds \(rounds)" }
        if let killFraction { flags += " --kill \(killFraction)" }
        if let joiners { flags += " --joiners \(joiners)" }
        if let leaseFraction { flags += " --lease-fraction \(leaseFraction)" }
        if let offenders { flags += " --offenders \(offenders)" }
        if let evictTTLSeconds { flags += " --evict-ttl \(evictTTLSeconds)" }
        return flags
    }

    /// Apply these options to the settings of a `scenario` run, or throw why they are
    /// invalid.
    func configure(_ settings: inout Settings, for scenario: ScenarioKind) throws {
        if scenario.isHive { settings.hive.enabled = formCells }
        if let f = leaseFraction {
            guard f > 0 && f < 100 else { throw SimulationError.badLeaseFraction(f) }
            settings.hive.leaseFraction = f
        }
        if scenario == .evict {
            settings.hive.evictionTTL = .milliseconds(Int64((evictTTLSeconds ?? 90) * 1000))
        }
        if let k = killFraction, !(k >= 0 && k < 1) { throw SimulationError.badProbability("--kill", k) }
    }
}

/// The host-fault scenarios' options (gray, oneway, flipflop, stall).
public struct HostFaultOptions: Sendable {
    /// gray, oneway, flipflop: the faulty host's loss (default 0.8; flipflop 1).
    public var loss: Double?
    /// flipflop: seconds on, then seconds off (default 20).
    public var periodSeconds: Double?
    /// stall: how long each stall lasts (default 1.5 s) and how many (default 15).
    public var stallSeconds: Double?
    public var stalls: Int?

    public init() {}

    var flags: String {
        var flags = ""
        if let loss { flags += " --host-loss \(loss)" }
        if let periodSeconds { flags += " --period \(periodSeconds)" }
        if let stallSeconds { flags += " --stall \(stallSeconds)" }
        if let stalls { flags += " --stalls \(stalls)" }
        return flags
    }

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

    public var description: String {
        switch self {
        case .unknownProfile(let p): "unknown profile '\(p)' (expected lan, wan or local)"
        case .tooFewNodes(let n, let min): "--nodes \(n) is too few for this scenario (minimum \(min))"
        case .badProbability(let name, let p): "\(name) must be in [0, 1), got \(p)"
        case .badDrift(let d): "--drift must be in [0, 0.5), got \(d)"
        case .badLeaseFraction(let f): "--lease-fraction must be in (0, 100), got \(f)"
        case .outOfRange(let name, let lo, let hi): "\(name) must be between \(lo) and \(hi)"
        }
    }
}
