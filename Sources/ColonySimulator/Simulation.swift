import ColonyCore

public enum ScenarioKind: String, CaseIterable, Sendable {
    /// A converged swarm; one new node joins. Convergence: until every node sees it alive.
    case join
    /// A converged swarm; one node crashes. Detection: first suspicion, and each node's death verdict.
    case crash
    /// As `crash`, while 10% of nodes stall for 1–5 s over and over (Lifeguard's scenario).
    case pause
    /// N nodes start at once and all join through one seed.
    case bootstrap
    /// The swarm splits in halves for longer than the suspicion timeout, then heals.
    case partition
    /// Nothing happens for `duration`: the cost of keeping a swarm together.
    case steady
    /// A converged swarm; one node writes one key. Convergence: until every node holds it.
    case write
    /// Random writes from all nodes under loss, duplication, crashes with restarts and a
    /// partition that heals; then every live node must hold the same state with no
    /// acknowledged write lost and no false siblings.
    case stateChaos = "state-chaos"
    /// A signed swarm in which 20% of nodes flood, forge or freeload: honest news must
    /// still reach every honest node, and offenders must be graylisted fast.
    case abuse
    /// The hive forms cells with queens; then many senders broadcast through them
    /// (redundancy, delivery, hops, latency). `--no-hive`: the same over plain gossip.
    case hive
    /// Queens crash one by one (failover time); then a fraction of all nodes, a queen among
    /// them, crash at once while broadcasts flow (delivery to survivors).
    case queenLoss = "queen-loss"
    /// A formed hive doubles in size while broadcasts flow: full cells breed (split time,
    /// delivery); then one cell shrinks below its low-water mark and merges away.
    case split
    /// The hive under faults for `--duration` s (default 30): queens cut off from their
    /// cells (alone or with some workers), queens and workers paused, and the given loss,
    /// with clocks drifting. Safety (one queen per cell per term, one lease holder per cell)
    /// must hold at every step; after the faults stop, the hive must form again.
    case hiveSafety = "hive-safety"
    /// A formed, signed hive in which `--offenders` members flood or freeload: their victims
    /// accuse them, a queen evicts them, every honest member refuses them; one eviction is
    /// lifted, the others expire after `--evict-ttl` s and their members return.
    case evict
    /// A formed, signed hive in which `--offenders` members (default 10 %) hold valid keys and
    /// run every attack of issue 18 while honest members broadcast: honest delivery, no honest
    /// member evicted or left dead, every attacker graylisted or evicted.
    case byzantine
    /// Every host loses `--host-loss` (default 0.1) of what it sends and of what it receives
    /// (about 19 % per path) for `--duration` s (default 120), hive on: no live member may be
    /// declared dead (the real agents' first failure, issue 17).
    case loss
    /// Gray failure: one host loses `--host-loss` (default 0.8) of what it sends and receives
    /// for `--duration` s (default 90), the rest are clean. No healthy member may be declared
    /// dead; the gray host may be.
    case gray
    /// One host loses `--host-loss` (default 0.8) of what it receives, nothing it sends.
    case oneway
    /// One host's inbound loss (`--host-loss`, default 1) switched on and off every
    /// `--period` s (default 20) for `--duration` s (default 160: four cycles), as in the
    /// Rapid paper. Counts the flapping member's status changes.
    case flipflop
    /// kill -9 of one agent on a live host (its port then refuses connections), the hive on:
    /// detection by the first and by every survivor (as `crash --crash process`, with cells).
    case kill
    /// One process stalls (SIGSTOP) for `--stall` s (default 1.5), `--stalls` times (default
    /// 15), 2–4 s apart: a GC pause. The stalled member must never be declared dead.
    case stall
}

extension ScenarioKind {
    /// Scenarios of the hive (cells form unless `--no-hive`).
    package var isHive: Bool {
        self == .hive || self == .queenLoss || self == .split || self == .hiveSafety || self == .evict
            || self == .byzantine
    }

    /// Scenarios of one faulty host in a healthy swarm, as the real-network harness runs
    /// them (scripts/netharness.py); the hive is on, as in a default agent, unless `--no-hive`.
    package var isHostFault: Bool {
        self == .loss || self == .gray || self == .oneway || self == .flipflop || self == .stall || self == .kill
    }
}

/// Runs one scenario end to end: a safety phase (faults, invariants on every step), then a
/// liveness phase in which the swarm must converge — "did not converge" is a failure.
public enum Simulation {
    public static func run(_ options: SimulationOptions, progress: ((Double) -> Void)? = nil) throws -> SimulationResult
    {
        let (settings, network) = try configure(options)
        let clock = ContinuousClock()
        let started = clock.now
        let sim = Simulator(seed: options.seed, settings: settings, network: network)
        // The hive's lease must hold with clocks that run at different rates.
        sim.clockDrift = options.clockDrift ?? (options.scenario.isHive ? 0.01 : 0)
        sim.strict =
            options.loss == 0 && options.duplicate == 0 && options.reorder == 0 && options.scenario != .stateChaos
            && options.scenario != .hiveSafety && options.scenario != .evict && options.scenario != .byzantine
        sim.debugDeaths = options.debugDeaths
        // The scenarios that real agents are run against (scripts/netharness.py) fire timers as
        // an event loop does, a little late; the others keep exact timers (and their traces).
        let lateness = options.timerLatenessMs ?? (options.scenario.isHostFault ? 2 : 0)
        sim.timerLatenessMax = .milliseconds(rounding: lateness)
        var context = Context(sim: sim, options: options, settings: settings, progress: progress)
        var result = SimulationResult(options: options)
        switch options.scenario {
        case .join: context.join(&result)
        case .crash: context.crash(&result, pauses: false)
        case .pause: context.crash(&result, pauses: true)
        case .bootstrap: context.bootstrap(&result)
        case .partition: context.partition(&result)
        case .steady: context.steady(&result)
        case .write: context.write(&result)
        case .stateChaos: context.stateChaos(&result)
        case .abuse: context.abuse(&result)
        case .hive: context.hive(&result)
        case .queenLoss: context.queenLoss(&result)
        case .split: context.split(&result)
        case .hiveSafety: context.hiveSafety(&result)
        case .evict: context.evict(&result)
        case .byzantine: context.byzantine(&result)
        case .loss, .gray, .oneway, .flipflop, .stall: context.hostFault(&result)
        case .kill: context.kill(&result)
        }
        result.safetyViolations = sim.safetyViolations
        let elapsed = clock.now - started
        result.wallSeconds = elapsed.seconds
        result.peakMemoryBytes = ProcessMemory.peakBytes()
        result.virtualSeconds = sim.elapsed.inSeconds
        result.steps = sim.steps
        result.traceHash = sim.traceHash
        result.violations = sim.violations
        for kind in MessageKind.allCases where sim.messagesByKind[kind.rawValue] > 0 {
            result.messagesByKind[kind.description] = sim.messagesByKind[kind.rawValue]
            result.bytesByKind[kind.description] = sim.bytesByKind[kind.rawValue]
        }
        return result
    }

    /// The settings and network a run's options ask for, or why they are invalid.
    static func configure(_ options: SimulationOptions) throws -> (Settings, NetworkModel) {
        guard var settings = Settings.profile(named: options.profile),
            var network = NetworkModel.profile(named: options.profile)
        else {
            throw SimulationError.unknownProfile(options.profile)
        }
        for (name, p) in [("--loss", options.loss), ("--duplicate", options.duplicate), ("--reorder", options.reorder)]
        {
            if !(p >= 0 && p < 1) { throw SimulationError.badProbability(name, p) }
        }
        let minimum = options.scenario == .partition || options.scenario == .stateChaos ? 4 : 3
        if options.nodes < minimum { throw SimulationError.tooFewNodes(options.nodes, minimum: minimum) }
        if let alpha = options.suspicionMultiplier { settings.suspicionMultiplier = max(1, alpha) }
        if options.strictHelperAudit { settings.trust.lossTolerant = false }
        if options.newsOnHiveMessages { settings.newsOnHiveMessages = true }
        if options.noFlapDamping { settings.flapThreshold = 0 }
        if let q = options.quorumTimeoutMs {
            guard q >= 0 && q <= 60_000 else { throw SimulationError.outOfRange("--quorum-timeout", 0, 60_000) }
            settings.hive.quorumTimeout = .milliseconds(Int64(q.rounded()))
        }
        if options.scenario.isHostFault { settings.hive.enabled = options.hive.formCells }
        try options.hostFault.validate()
        try options.hive.configure(&settings, for: options.scenario)
        if options.scenario == .evict { settings.hive.evictionTTL = options.evict.evictionTTL }
        try options.queenLoss.validate()
        if let d = options.clockDrift, !(d >= 0 && d < 0.5) { throw SimulationError.badDrift(d) }
        if let l = options.timerLatenessMs, !(l >= 0 && l <= 1000) {
            throw SimulationError.outOfRange("--timer-lateness", 0, 1000)
        }
        network.loss = options.loss
        network.duplicate = options.duplicate
        network.reorder = options.reorder
        return (settings, network)
    }
}

// MARK: What every scenario drives the simulator with

extension Simulation {
    struct Context {
        let sim: Simulator
        let options: SimulationOptions
        let settings: Settings
        let progress: ((Double) -> Void)?
        var rng: Xoshiro256

        init(sim: Simulator, options: SimulationOptions, settings: Settings, progress: ((Double) -> Void)?) {
            self.sim = sim
            self.options = options
            self.settings = settings
            self.progress = progress
            self.rng = Xoshiro256(seed: SplitMix64.mix(options.seed ^ 0x5CE7_A510))
        }

        var n: Int { options.nodes }
        var period: Duration { settings.probeInterval }
        /// How long a swarm runs before a scenario's fault, from virtual time zero.
        var warmup: Duration { max(.seconds(10), period * 5) }
        var maxSuspicion: Duration {
            settings.suspicionMinimum(members: n) * settings.suspicionMaxTimeoutMultiplier
        }

        /// Run to `deadline` in slices, reporting progress, stopping early when `done`.
        func drive(until deadline: Instant, from origin: Instant = .zero, done: () -> Bool) {
            let slice = max(period / 2, .milliseconds(100))
            var t = sim.now
            while t < deadline {
                t = min(deadline, t + slice)
                var finished = false
                sim.run(until: t) { _ in
                    finished = done()
                    return finished
                }
                reportProgress(from: origin, to: deadline)
                if finished || done() { return }
            }
        }

        /// How far the run is from `origin` to `deadline`, for the progress line.
        func reportProgress(from origin: Instant, to deadline: Instant) {
            guard let progress else { return }
            let done = (sim.now - origin).nanosecondsInt64
            progress(Double(done) / Double(max(1, (deadline - origin).nanosecondsInt64)))
        }

        func converged() -> MemberTable { sim.convergedTable(0..<n) }

        func startConverged() {
            sim.addNodes(n)
            let table = converged()
            for i in 0..<n { sim.start(i, known: table) }
        }

        /// Average bytes and messages per live node per second over [from, to).
        func measureLoad(_ result: inout SimulationResult, from: Instant, to: Instant) {
            var bytes0 = 0
            var msgs0 = 0
            sim.schedule(at: from) { s in
                bytes0 = s.totalBytesSent
                msgs0 = s.totalMessagesSent
            }
            drive(until: to) { false }
            let seconds = (to - from).inSeconds
            let live = Double(sim.upNodes.count)
            result.bytesPerNodePerSecond = Double(sim.totalBytesSent - bytes0) / live / seconds
            result.messagesPerNodePerSecond = Double(sim.totalMessagesSent - msgs0) / live / seconds
        }

        /// Records, per node, the first time (ms since `origin`) it sees all `n` members
        /// alive; `done` counts such nodes.
        final class AllAliveTracker {
            var at: [Double?]
            var done = 0
            init(nodes: Int) { at = Array(repeating: nil, count: nodes) }
            var times: [Double] { at.compactMap { $0 } }
        }

        func trackAllAlive(from origin: Instant) -> AllAliveTracker {
            let tracker = AllAliveTracker(nodes: n)
            let total = n
            sim.onEvent = { s, i, event in
                guard tracker.at[i] == nil, case .memberChanged = event,
                    let core = s.nodes[i].core, core.table.count(.alive) == total
                else { return }
                tracker.at[i] = (s.now - origin).inMilliseconds
                tracker.done += 1
            }
            return tracker
        }

        func timeline(_ times: [Double], of total: Int) -> [(ms: Double, fraction: Double)] {
            let sorted = times.sorted()
            var out: [(ms: Double, fraction: Double)] = [(0, 0)]
            for (k, t) in sorted.enumerated() { out.append((t, Double(k + 1) / Double(total))) }
            return out
        }

        /// Run until converged (checked every 100 ms of virtual time) or the deadline.
        func waitConverged(until deadline: Instant, expectedGone: Set<Int> = []) -> Bool {
            let origin = sim.now
            while sim.now < deadline {
                if sim.isConverged(expectedGone: expectedGone) { return true }
                sim.run(until: min(deadline, sim.now + .milliseconds(100)))
                reportProgress(from: origin, to: deadline)
            }
            return sim.isConverged(expectedGone: expectedGone)
        }

        /// Live nodes whose held records differ from the most common set.
        func divergentNodes() -> Int {
            var counts: [UInt64: Int] = [:]
            for i in sim.upNodes { counts[sim.nodes[i].core!.state.contentHash, default: 0] += 1 }
            let top = counts.values.max() ?? 0
            return sim.upNodes.count - top
        }
    }
}
