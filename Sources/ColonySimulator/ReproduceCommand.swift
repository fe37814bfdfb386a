import ColonyCore

// The command that replays a run: `reproduceCommand` prints a run's options as the flags of
// `colony simulate`, in a fixed order (reports and scripts carry it: its text is a contract),
// and `init(reproducing:)` reads them back (a decoded report's options).

extension SimulationOptions {
    static let commandPrefix = "swift run -c release colony simulate "

    /// The one command that replays this run.
    public var reproduceCommand: String {
        var cmd = Self.commandPrefix + "--scenario \(scenario.rawValue) --nodes \(nodes)"
        cmd += " --seed \(seedText) --profile \(profile)"
        if loss > 0 { cmd += " --loss \(loss)" }
        if duplicate > 0 { cmd += " --duplicate \(duplicate)" }
        if reorder > 0 { cmd += " --reorder \(reorder)" }
        if let durationSeconds { cmd += " --duration \(durationSeconds)" }
        if let suspicionMultiplier { cmd += " --suspicion-mult \(suspicionMultiplier)" }
        if crash.kind == .process { cmd += " --crash process" }
        if !hive.formCells { cmd += " --no-hive" }
        if let broadcasts = hive.broadcasts { cmd += " --broadcasts \(broadcasts)" }
        if let rounds = queenLoss.rounds { cmd += " --rounds \(rounds)" }
        if let kill = queenLoss.killFraction { cmd += " --kill \(kill)" }
        if let joiners = split.joiners { cmd += " --joiners \(joiners)" }
        if let leaseFraction = hive.leaseFraction { cmd += " --lease-fraction \(leaseFraction)" }
        if let offenders = evict.offenders { cmd += " --offenders \(offenders)" }
        if let ttl = evict.evictTTLSeconds { cmd += " --evict-ttl \(ttl)" }
        if let hostLoss = hostFault.loss { cmd += " --host-loss \(hostLoss)" }
        if let period = hostFault.periodSeconds { cmd += " --period \(period)" }
        if let stall = hostFault.stallSeconds { cmd += " --stall \(stall)" }
        if let stalls = hostFault.stalls { cmd += " --stalls \(stalls)" }
        if let clockDrift { cmd += " --drift \(clockDrift)" }
        if strictHelperAudit { cmd += " --strict-helper-audit" }
        if newsOnHiveMessages { cmd += " --news-on-hive-messages" }
        if noFlapDamping { cmd += " --no-flap-damping" }
        if let timerLatenessMs { cmd += " --timer-lateness \(timerLatenessMs)" }
        if let quorumTimeoutMs { cmd += " --quorum-timeout \(quorumTimeoutMs)" }
        return cmd
    }

    /// The options a `reproduceCommand` prints, read back (`debugDeaths`, which it leaves
    /// out, is false). Throws `SimulationError.notAReproduceCommand` for anything else.
    public init(reproducing command: String) throws {
        guard command.hasPrefix(Self.commandPrefix) else {
            throw SimulationError.notAReproduceCommand("it does not start with '\(Self.commandPrefix)'")
        }
        let flags = try CommandFlags(command.dropFirst(Self.commandPrefix.count))
        guard let kind = ScenarioKind(rawValue: try flags.text("scenario") ?? "") else {
            throw SimulationError.notAReproduceCommand("no known --scenario")
        }
        guard let nodes = try flags.int("nodes"), let seedText = try flags.text("seed"),
            seedText.hasPrefix("0x"), let seed = UInt64(seedText.dropFirst(2), radix: 16),
            let profile = try flags.text("profile")
        else { throw SimulationError.notAReproduceCommand("--nodes, --seed (0x-hex) or --profile missing") }
        self.init(scenario: kind, nodes: nodes, seed: seed, profile: profile)
        loss = try flags.double("loss") ?? 0
        duplicate = try flags.double("duplicate") ?? 0
        reorder = try flags.double("reorder") ?? 0
        durationSeconds = try flags.double("duration")
        suspicionMultiplier = try flags.int("suspicion-mult")
        switch try flags.text("crash") {
        case nil, "host": crash.kind = .host
        case "process": crash.kind = .process
        case let other?: throw SimulationError.notAReproduceCommand("--crash \(other)")
        }
        hive.formCells = !flags.isSet("no-hive")
        hive.broadcasts = try flags.int("broadcasts")
        queenLoss.rounds = try flags.int("rounds")
        queenLoss.killFraction = try flags.double("kill")
        split.joiners = try flags.int("joiners")
        hive.leaseFraction = try flags.double("lease-fraction")
        evict.offenders = try flags.int("offenders")
        evict.evictTTLSeconds = try flags.double("evict-ttl")
        hostFault.loss = try flags.double("host-loss")
        hostFault.periodSeconds = try flags.double("period")
        hostFault.stallSeconds = try flags.double("stall")
        hostFault.stalls = try flags.int("stalls")
        clockDrift = try flags.double("drift")
        strictHelperAudit = flags.isSet("strict-helper-audit")
        newsOnHiveMessages = flags.isSet("news-on-hive-messages")
        noFlapDamping = flags.isSet("no-flap-damping")
        timerLatenessMs = try flags.double("timer-lateness")
        quorumTimeoutMs = try flags.double("quorum-timeout")
        try flags.checkAllRead()
    }
}

/// The flags of a command line: `--name value` pairs and the switches that take no value.
/// Reading a flag marks it read; one never read is an error (`checkAllRead`).
final class CommandFlags {
    static let switches: Set<String> = [
        "no-hive", "strict-helper-audit", "news-on-hive-messages", "no-flap-damping",
    ]

    private var values: [String: String] = [:]
    private var set: Set<String> = []
    private var unread: Set<String> = []

    init(_ text: Substring) throws {
        var words = text.split(separator: " ").map(String.init)[...]
        while let word = words.popFirst() {
            guard word.hasPrefix("--"), word.count > 2 else {
                throw SimulationError.notAReproduceCommand("'\(word)' is not a flag")
            }
            let name = String(word.dropFirst(2))
            guard values[name] == nil, !set.contains(name) else {
                throw SimulationError.notAReproduceCommand("--\(name) given twice")
            }
            if Self.switches.contains(name) {
                set.insert(name)
            } else {
                guard let value = words.popFirst() else {
                    throw SimulationError.notAReproduceCommand("--\(name) without a value")
                }
                values[name] = value
            }
            unread.insert(name)
        }
    }

    func isSet(_ name: String) -> Bool {
        unread.remove(name)
        return set.contains(name)
    }

    func text(_ name: String) throws -> String? {
        unread.remove(name)
        return values[name]
    }

    func int(_ name: String) throws -> Int? { try parsed(name) { Int($0) } }

    func double(_ name: String) throws -> Double? { try parsed(name) { Double($0) } }

    /// The value of `--name` parsed by `parse` (nil if absent; an error if it does not parse).
    private func parsed<T>(_ name: String, _ parse: (String) -> T?) throws -> T? {
        guard let text = try text(name) else { return nil }
        guard let value = parse(text) else { throw SimulationError.notAReproduceCommand("--\(name) \(text)") }
        return value
    }

    func checkAllRead() throws {
        guard unread.isEmpty else {
            throw SimulationError.notAReproduceCommand(
                "unknown flags " + unread.sorted().map { "--" + $0 }.joined(separator: " "))
        }
    }
}
