import ArgumentParser
import ColonyCore
import ColonySimulator
import Foundation

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the deterministic swarm simulator on a scenario and report what it measured.",
        discussion: """
            One seed decides everything; the same seed replays the same run. A run first checks \
            invariants on every step, then requires the swarm to converge. On failure it prints \
            the command that reproduces it and exits non-zero.
            """
    )

    @Option(help: "Scenario: \(ScenarioKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var scenario: String = "join"

    @Option(help: "Number of nodes.")
    var nodes: Int = 100

    @Option(help: "64-bit seed, decimal or 0x-hex (random if omitted; printed first).")
    var seed: String?

    @Option(help: "Settings and network profile: lan, wan or local.")
    var profile: String = "lan"

    @Option(help: "Probability that a datagram is lost, in [0, 1).")
    var loss: Double = 0

    @Option(help: "Probability that a datagram is duplicated, in [0, 1).")
    var duplicate: Double = 0

    @Option(help: "Probability that a datagram is held back and reordered, in [0, 1).")
    var reorder: Double = 0

    @Option(
        help: """
            Virtual seconds to run the steady scenario (default 600), the writes of state-chaos (default 60), or the \
            fault of gray and oneway (default 90) and flipflop (default 160).
            """)
    var duration: Double?

    @Option(name: .customLong("suspicion-mult"), help: "Override the profile's suspicion multiplier α.")
    var suspicionMult: Int?

    @Option(help: "Crash kind for crash/pause: host (vanishes silently) or process (its port refuses connections).")
    var crash: String = "host"

    @Flag(
        name: .customLong("no-hive"), help: "hive, queen-loss, split: do not form cells (plain gossip, for comparison)."
    )
    var noHive = false

    @Option(help: "hive, queen-loss, split: broadcasts to send (default 200).")
    var broadcasts: Int?

    @Option(help: "queen-loss: queens to crash one at a time (default 20).")
    var rounds: Int?

    @Option(help: "queen-loss: fraction of nodes crashed at once, in [0, 1) (default 0.2).")
    var kill: Double?

    @Option(help: "split: nodes that join the formed hive (default: as many as it has).")
    var joiners: Int?

    @Option(help: "Each node's clock runs at 1 ± up to this rate error (default 0.01 in the hive scenarios; else 0).")
    var drift: Double?

    @Option(
        name: .customLong("lease-fraction"),
        help: """
            Override the hive's lease fraction (default 0.9; above 1 is unsafe: a negative control for the lease \
            check).
            """
    )
    var leaseFraction: Double?

    @Flag(
        help: """
            Trust as before issue 17: one ignored ping-req graylists the helper, whose refutations are then \
            ignored (a negative control: live members die under loss).
            """)
    var strictHelperAudit = false

    @Option(
        name: .customLong("host-loss"),
        help: "gray, oneway, flipflop: the faulty host's loss in [0, 1] (default 0.8; flipflop 1).")
    var hostLoss: Double?

    @Option(help: "flipflop: seconds the faulty host's inbound loss is on, then off (default 20).")
    var period: Double?

    @Option(help: "stall: seconds each stall of the faulty host lasts (default 1.5).")
    var stall: Double?

    @Option(help: "stall: how many stalls (default 15), 2–4 s apart.")
    var stalls: Int?

    @Flag(
        help: """
            The hive's messages carry piggybacked news, as before issue 17 (a negative control: a death reaches \
            half the swarm seconds late).
            """)
    var newsOnHiveMessages = false

    @Flag(
        help: """
            No flap damping, as before issue 17 (a negative control: a flip-flopping member is readmitted \
            at every comeback).
            """)
    var noFlapDamping = false

    @Option(
        help: """
            Timers fire up to this many ms late, as on a real event loop (default 2 in loss, gray, oneway, \
            flipflop, stall and kill; 0 elsewhere).
            """)
    var timerLateness: Double?

    @Option(
        help: """
            The hive's check-quorum timeout in ms (default 600; 150, the window before issue 17, is a negative \
            control: under loss, queens step down every few seconds).
            """)
    var quorumTimeout: Double?

    @Option(help: "evict, byzantine: members that misbehave (default max(2, N/50); byzantine: max(2, N/10)).")
    var offenders: Int?

    @Option(name: .customLong("evict-ttl"), help: "evict: how long an eviction lasts, seconds (default 90).")
    var evictTTL: Double?

    @Flag(help: "Print every death verdict about a member that is up (observer, member, time, pauses).")
    var debugDeaths = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Write CSV, SVG plot and JSON of the run into this directory.")
    var report: String?

    func run() throws {
        let options = try simulationOptions()
        // The seed comes first, so even a crashed run can be replayed.
        FileHandle.standardError.write(Data("seed: \(options.seedText)\n".utf8))
        let clock = ContinuousClock()
        var lastPrint = clock.now
        let interactive = isatty(2) != 0
        let result: SimulationResult
        do {
            result = try Simulation.run(options) { fraction in
                let t = clock.now
                if t - lastPrint > .seconds(interactive ? 1 : 15) {
                    lastPrint = t
                    let line = String(format: "  … %3.0f%% of the planned virtual time", min(1, fraction) * 100)
                    FileHandle.standardError.write(Data((interactive ? "\r" + line : line + "\n").utf8))
                }
            }
        } catch let error as SimulationError {
            throw ValidationError(error.description)
        }
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(json ? result.json : result.table)
        if let report {
            try Report.write(result, to: report)
            if !json { print("report written to \(report)/") }
        }
        if !result.passed {
            FileHandle.standardError.write(Data("FAILED — reproduce with:\n  \(options.reproduceCommand)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The run the flags describe (the seed drawn at random if none is given).
    func simulationOptions() throws -> SimulationOptions {
        guard let kind = ScenarioKind(rawValue: scenario) else {
            let known = ScenarioKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown scenario '\(scenario)'; expected one of \(known)")
        }
        guard nodes >= 3, nodes <= 1_000_000 else { throw ValidationError("--nodes must be between 3 and 1000000") }
        if let duration, !(duration > 0 && duration <= 1_000_000) {
            throw ValidationError("--duration must be positive and at most 1000000 seconds")
        }
        let seedValue: UInt64
        if let seed {
            guard let parsed = Self.parseSeed(seed) else {
                throw ValidationError("--seed must be a 64-bit number, decimal or 0x-hex")
            }
            seedValue = parsed
        } else {
            var g = SystemRandomNumberGenerator()
            seedValue = g.next()
        }
        var options = SimulationOptions(scenario: kind, nodes: nodes, seed: seedValue, profile: profile)
        options.loss = loss
        options.duplicate = duplicate
        options.reorder = reorder
        options.durationSeconds = duration
        options.suspicionMultiplier = suspicionMult
        options.strictHelperAudit = strictHelperAudit
        options.newsOnHiveMessages = newsOnHiveMessages
        options.noFlapDamping = noFlapDamping
        options.timerLatenessMs = timerLateness
        options.quorumTimeoutMs = quorumTimeout
        options.debugDeaths = debugDeaths
        options.clockDrift = drift
        try validateHiveOptions()
        options.hive.formCells = !noHive
        options.hive.broadcasts = broadcasts
        options.queenLoss.rounds = rounds
        options.queenLoss.killFraction = kill
        options.split.joiners = joiners
        options.hive.leaseFraction = leaseFraction
        options.evict.offenders = offenders
        options.evict.evictTTLSeconds = evictTTL
        options.hostFault.loss = hostLoss
        options.hostFault.periodSeconds = period
        options.hostFault.stallSeconds = stall
        options.hostFault.stalls = stalls
        switch crash {
        case "host": options.crash.kind = .host
        case "process": options.crash.kind = .process
        default: throw ValidationError("--crash must be host or process")
        }
        return options
    }

    /// Bounds of the hive scenarios' flags.
    func validateHiveOptions() throws {
        if let broadcasts, broadcasts < 0 || broadcasts > 1_000_000 {
            throw ValidationError("--broadcasts must be between 0 and 1000000")
        }
        if let rounds, rounds < 0 || rounds > 10_000 { throw ValidationError("--rounds must be between 0 and 10000") }
        if let joiners, joiners < 0 || joiners > 1_000_000 {
            throw ValidationError("--joiners must be between 0 and 1000000")
        }
        if let offenders, offenders < 1 || offenders > nodes / 3 {
            throw ValidationError("--offenders must be between 1 and a third of --nodes")
        }
        if let evictTTL, !(evictTTL >= 1 && evictTTL <= 86_400) {
            throw ValidationError("--evict-ttl must be between 1 and 86400 seconds")
        }
    }

    static func parseSeed(_ text: String) -> UInt64? {
        let t = text.lowercased()
        if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
        return UInt64(t)
    }
}
