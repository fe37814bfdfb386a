import ColonyCore

// The command that replays a run: `reproduceCommand` prints a run's options as the flags of
// `colony simulate`, in a fixed order (reports and scripts carry it: its text is a contract).

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
}
