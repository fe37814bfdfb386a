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
}

extension ScenarioKind {
    /// Scenarios of the hive (cells form unless `--no-hive`).
    public var isHive: Bool {
        self == .hive || self == .queenLoss || self == .split || self == .hiveSafety || self == .evict
    }
}

public struct SimulationOptions: Sendable {
    public var scenario: ScenarioKind
    public var nodes: Int
    public var seed: UInt64
    public var profile: String
    public var loss: Double = 0
    public var duplicate: Double = 0
    public var reorder: Double = 0
    /// Virtual seconds for `steady` (default 600).
    public var durationSeconds: Double?
    /// Overrides the profile's suspicion multiplier α.
    public var suspicionMultiplier: Int?
    /// What kind of crash `crash` and `pause` inflict: a vanished host (default) or a dead
    /// process on a live host, whose port refuses connections.
    public var crashKind: Simulator.CrashKind = .host
    /// hive, queen-loss: form cells (false: plain gossip, for comparison).
    public var hive = true
    /// hive, queen-loss: how many broadcasts to send (default 200).
    public var broadcasts: Int?
    /// queen-loss: queens to crash one at a time (default 20).
    public var rounds: Int?
    /// queen-loss: the fraction of nodes crashed at once (default 0.2).
    public var killFraction: Double?
    /// split: nodes that join the formed hive (default: as many as it has).
    public var joiners: Int?
    /// Per-node clock rate error bound (default 0.01 in the hive scenarios, else 0).
    public var clockDrift: Double?
    /// Overrides the hive's lease fraction (a negative control: above 1, a lease outlasts
    /// the voters' stickiness and the lease check must catch it).
    public var leaseFraction: Double?
    /// evict: misbehaving members (default max(2, N/50)) and how long evictions last
    /// (seconds, default 90).
    public var offenders: Int?
    public var evictTTLSeconds: Double?

    public init(scenario: ScenarioKind, nodes: Int, seed: UInt64, profile: String = "lan") {
        self.scenario = scenario
        self.nodes = nodes
        self.seed = seed
        self.profile = profile
    }

    public var seedText: String { "0x" + String(seed, radix: 16) }

    /// The one command that replays this run.
    public var reproduceCommand: String {
        var cmd =
            "swift run -c release colony simulate --scenario \(scenario.rawValue) --nodes \(nodes) --seed \(seedText) --profile \(profile)"
        if loss > 0 { cmd += " --loss \(loss)" }
        if duplicate > 0 { cmd += " --duplicate \(duplicate)" }
        if reorder > 0 { cmd += " --reorder \(reorder)" }
        if let durationSeconds { cmd += " --duration \(durationSeconds)" }
        if let suspicionMultiplier { cmd += " --suspicion-mult \(suspicionMultiplier)" }
        if crashKind == .process { cmd += " --crash process" }
        if !hive { cmd += " --no-hive" }
        if let broadcasts { cmd += " --broadcasts \(broadcasts)" }
        if let rounds { cmd += " --rounds \(rounds)" }
        if let killFraction { cmd += " --kill \(killFraction)" }
        if let joiners { cmd += " --joiners \(joiners)" }
        if let clockDrift { cmd += " --drift \(clockDrift)" }
        if let leaseFraction { cmd += " --lease-fraction \(leaseFraction)" }
        if let offenders { cmd += " --offenders \(offenders)" }
        if let evictTTLSeconds { cmd += " --evict-ttl \(evictTTLSeconds)" }
        return cmd
    }
}

public enum SimulationError: Error, CustomStringConvertible {
    case unknownProfile(String)
    case tooFewNodes(Int, minimum: Int)
    case badProbability(String, Double)
    case badDrift(Double)
    case badLeaseFraction(Double)

    public var description: String {
        switch self {
        case .unknownProfile(let p): "unknown profile '\(p)' (expected lan, wan or local)"
        case .tooFewNodes(let n, let min): "--nodes \(n) is too few for this scenario (minimum \(min))"
        case .badProbability(let name, let p): "\(name) must be in [0, 1), got \(p)"
        case .badDrift(let d): "--drift must be in [0, 0.5), got \(d)"
        case .badLeaseFraction(let f): "--lease-fraction must be in (0, 100), got \(f)"
        }
    }
}

/// Runs one scenario end to end: a safety phase (faults, invariants on every step), then a
/// liveness phase in which the swarm must converge — "did not converge" is a failure.
public enum Simulation {
    static let second: Int64 = 1_000_000_000

    public static func run(_ options: SimulationOptions, progress: ((Double) -> Void)? = nil) throws -> SimulationResult
    {
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
        if options.scenario.isHive { settings.hive.enabled = options.hive }
        if let f = options.leaseFraction {
            guard f > 0 && f < 100 else { throw SimulationError.badLeaseFraction(f) }
            settings.hive.leaseFraction = f
        }
        if options.scenario == .evict {
            settings.hive.evictionTTL = .milliseconds(Int64((options.evictTTLSeconds ?? 90) * 1000))
        }
        if let k = options.killFraction, !(k >= 0 && k < 1) { throw SimulationError.badProbability("--kill", k) }
        if let d = options.clockDrift, !(d >= 0 && d < 0.5) { throw SimulationError.badDrift(d) }
        network.loss = options.loss
        network.duplicate = options.duplicate
        network.reorder = options.reorder

        let clock = ContinuousClock()
        let started = clock.now
        let sim = Simulator(seed: options.seed, settings: settings, network: network)
        // The hive's lease must hold with clocks that run at different rates.
        sim.clockDrift = options.clockDrift ?? (options.scenario.isHive ? 0.01 : 0)
        sim.strict =
            options.loss == 0 && options.duplicate == 0 && options.reorder == 0 && options.scenario != .stateChaos
            && options.scenario != .hiveSafety && options.scenario != .evict
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
        }
        result.safetyViolations = sim.safetyViolations
        let elapsed = clock.now - started
        result.wallSeconds = elapsed.seconds
        result.peakMemoryBytes = ProcessMemory.peakBytes()
        result.virtualSeconds = Double(sim.now) / 1e9
        result.steps = sim.steps
        result.traceHash = sim.traceHash
        result.violations = sim.violations
        for kind in MessageKind.allCases where sim.messagesByKind[kind.rawValue] > 0 {
            result.messagesByKind[kind.description] = sim.messagesByKind[kind.rawValue]
            result.bytesByKind[kind.description] = sim.bytesByKind[kind.rawValue]
        }
        return result
    }

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
        var period: Int64 { settings.probeInterval.nanosecondsInt64 }
        var warmup: Int64 { max(10 * second, 5 * period) }
        var maxSuspicion: Int64 {
            settings.suspicionMinNanoseconds(members: n) * Int64(settings.suspicionMaxTimeoutMultiplier)
        }

        /// Run to `deadline` in slices, reporting progress, stopping early when `done`.
        func drive(until deadline: Int64, from origin: Int64 = 0, done: () -> Bool) {
            let slice = max(period / 2, 100_000_000)
            var t = sim.now
            while t < deadline {
                t = min(deadline, t + slice)
                var finished = false
                sim.run(until: t) { _ in
                    finished = done()
                    return finished
                }
                progress?(Double(sim.now - origin) / Double(max(1, deadline - origin)))
                if finished || done() { return }
            }
        }

        func converged() -> MemberTable { sim.convergedTable(0..<n) }

        func startConverged() {
            sim.addNodes(n)
            let table = converged()
            for i in 0..<n { sim.start(i, known: table) }
        }

        /// Average bytes and messages per live node per second over [from, to).
        func measureLoad(_ result: inout SimulationResult, from: Int64, to: Int64) {
            var bytes0 = 0
            var msgs0 = 0
            sim.schedule(at: from) { s in
                bytes0 = s.totalBytesSent
                msgs0 = s.totalMessagesSent
            }
            drive(until: to) { false }
            let seconds = Double(to - from) / 1e9
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

        func trackAllAlive(from origin: Int64) -> AllAliveTracker {
            let tracker = AllAliveTracker(nodes: n)
            let total = n
            sim.onEvent = { s, i, event in
                guard tracker.at[i] == nil, case .memberChanged = event,
                    let core = s.nodes[i].core, core.table.count(.alive) == total
                else { return }
                tracker.at[i] = Double(s.now - origin) / 1e6
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

        // MARK: join

        mutating func join(_ result: inout SimulationResult) {
            startConverged()
            let joiner = sim.addNodes(1).lowerBound
            let joinerID = sim.nodes[joiner].id
            measureLoad(&result, from: warmup / 2, to: warmup)
            let seed = rng.below(n)
            var knownAt = [Double?](repeating: nil, count: n)
            var known = 0
            let joinAt = sim.now
            sim.onEvent = { s, i, event in
                guard i < knownAt.count, knownAt[i] == nil,
                    case .memberChanged(let m, _) = event, m.id == joinerID, m.status == .alive
                else { return }
                knownAt[i] = Double(s.now - joinAt) / 1e6
                known += 1
            }
            sim.start(joiner)
            sim.join(joiner, seeds: [seed])
            let deadline = joinAt + max(60 * second, 30 * period)
            drive(until: deadline, from: joinAt) { known == n }
            let times = knownAt.compactMap { $0 }
            result.falsePositives = sim.falselyDeclaredDead.count
            result.converged = known == n
            result.convergence = Distribution(times)
            result.timeline = timeline(times, of: n)
            result.newsLabel = "nodes that see the new node alive"
            if !result.converged {
                result.failure =
                    "did not converge: \(n - known) of \(n) nodes never saw the joiner alive within \(Double(deadline - joinAt) / 1e9) s"
            }
        }

        // MARK: crash and pause

        mutating func crash(_ result: inout SimulationResult, pauses: Bool) {
            startConverged()
            let victim = rng.below(n)
            let victimID = sim.nodes[victim].id
            if pauses {
                sim.strict = false
                let pausers = pickPausers(excluding: victim)
                let pauseEnd = warmup + 60 * second
                for p in pausers {
                    schedulePauses(p, from: warmup / 2 + Int64(rng.below(Int(5 * second))), until: pauseEnd)
                }
            } else {
                measureLoad(&result, from: warmup / 2, to: warmup)
            }
            sim.run(until: warmup)
            let crashAt = sim.now
            var firstSuspicion: Double?
            var deadAt = [Double?](repeating: nil, count: n)
            var deadCount = 0
            sim.onEvent = { s, i, event in
                guard case .memberChanged(let m, _) = event, m.id == victimID else { return }
                let t = Double(s.now - crashAt) / 1e6
                if m.status != .alive, firstSuspicion == nil { firstSuspicion = t }
                if m.status == .dead, deadAt[i] == nil {
                    deadAt[i] = t
                    deadCount += 1
                }
            }
            sim.crash(victim, kind: options.crashKind)
            let detectDeadline = crashAt + maxSuspicion + 60 * second
            drive(until: detectDeadline, from: crashAt) { deadCount >= n - 1 }
            let times = deadAt.compactMap { $0 }
            result.detectionFirstMs = firstSuspicion
            result.detectionAll = Distribution(times)
            result.convergence = result.detectionAll
            result.timeline = timeline(times, of: n - 1)
            result.newsLabel = "nodes that mark the crashed node dead"
            result.falsePositives = sim.falselyDeclaredDead.count
            if deadCount < n - 1 {
                result.failure =
                    "did not converge: \(n - 1 - deadCount) live nodes never marked the crashed node dead within \(Double(detectDeadline - crashAt) / 1e9) s"
                return
            }
            // Liveness: once faults stop, every live node must see every live node alive.
            let calm = max(sim.now, pauses ? warmup + 60 * second + 5 * second : sim.now)
            sim.run(until: calm)
            let livenessDeadline = calm + maxSuspicion + 120 * second
            result.converged = waitConverged(until: livenessDeadline, expectedGone: [victim])
            if !result.converged {
                result.failure =
                    "did not converge: live nodes still disagree \(Double(livenessDeadline - calm) / 1e9) s after faults stopped"
            }
        }

        mutating func pickPausers(excluding victim: Int) -> [Int] {
            rng.sample(max(1, n / 10), from: Array(0..<n).filter { $0 != victim })
        }

        /// Stall node `p` for 1–5 s, run for 1–5 s, and again, until `until`.
        mutating func schedulePauses(_ p: Int, from: Int64, until: Int64) {
            var t = from
            while t < until {
                let stall = second + Int64(rng.below(Int(4 * second)))
                sim.schedule(at: t) { s in s.pause(p, forNanoseconds: stall) }
                t += stall + second + Int64(rng.below(Int(4 * second)))
            }
        }

        /// Run until converged (checked every 100 ms of virtual time) or the deadline.
        func waitConverged(until deadline: Int64, expectedGone: Set<Int> = []) -> Bool {
            let origin = sim.now
            while sim.now < deadline {
                if sim.isConverged(expectedGone: expectedGone) { return true }
                sim.run(until: min(deadline, sim.now + 100_000_000))
                progress?(Double(sim.now - origin) / Double(max(1, deadline - origin)))
            }
            return sim.isConverged(expectedGone: expectedGone)
        }

        // MARK: bootstrap

        mutating func bootstrap(_ result: inout SimulationResult) {
            sim.addNodes(n)
            let seen = trackAllAlive(from: 0)
            let total = n
            sim.start(0)
            for i in 1..<n {
                let at = Int64(rng.below(100_000_000))
                sim.schedule(at: at) { s in
                    s.start(i)
                    s.join(i, seeds: [0])
                }
            }
            let deadline = max(120 * second, 60 * period)
            drive(until: deadline) { seen.done == total }
            let times = seen.times
            let done = seen.done
            result.convergence = Distribution(times)
            result.timeline = timeline(times, of: n)
            result.newsLabel = "nodes that see all \(n) members alive"
            result.converged = done == total && sim.isConverged()
            if !result.converged {
                result.failure =
                    "did not converge: \(total - done) of \(total) nodes did not see all members alive within \(deadline / second) s"
            }
        }

        // MARK: partition

        mutating func partition(_ result: inout SimulationResult) {
            startConverged()
            sim.run(until: warmup)
            var order = Array(0..<n)
            for k in stride(from: n - 1, to: 0, by: -1) { order.swapAt(k, rng.below(k + 1)) }
            var groups = [UInt8](repeating: 1, count: n)
            for k in order.prefix(n / 2) { groups[k] = 2 }
            sim.strict = false
            // Count cross-partition views that are dead, incrementally, from the events.
            var crossDead = 0
            let crossPairs = 2 * (n / 2) * (n - n / 2)
            sim.onEvent = { s, i, event in
                guard case .memberChanged(let m, let previous) = event else { return }
                guard let j = s.resolve(m.peer), groups[j] != groups[i] else { return }
                let was = previous?.status == .dead
                let isDead = m.status == .dead
                if isDead && !was { crossDead += 1 } else if was && !isDead { crossDead -= 1 }
            }
            sim.partition(groups)
            // Longer than the suspicion timeout: until every node has declared every node of
            // the other side dead. Half of all gossip is lost into the partition, so a few
            // nodes miss a verdict until anti-entropy repairs it: bound by twice the maximum
            // suspicion timeout plus one anti-entropy period plus a minute.
            let splitAt = sim.now
            let bound = splitAt + 2 * maxSuspicion + settings.pushPullNanoseconds(members: n) + 60 * second
            drive(until: bound, from: splitAt) { crossDead == crossPairs }
            sim.run(until: sim.now + 5 * second)
            var stragglers: [String] = []
            if crossDead < crossPairs {
                outer: for i in 0..<n {
                    guard let t = sim.nodes[i].core?.table else { continue }
                    for j in 0..<n where groups[j] != groups[i] {
                        if let m = t[sim.nodes[j].id]?.member, m.status != .dead {
                            let k = (0..<n).first { groups[$0] == groups[i] && $0 != i }!
                            let peerView =
                                sim.nodes[k].core?.member(m.id).map { "\($0.status)@\($0.incarnation)" } ?? "nothing"
                            stragglers.append(
                                "node \(i) sees node \(j) \(m.status)@\(m.incarnation) (node \(k) on its side: \(peerView))"
                            )
                            if stragglers.count >= 3 { break outer }
                        }
                    }
                }
            }
            sim.heal()
            let total = n
            let origin = sim.now
            let seen = trackAllAlive(from: origin)
            let deadline = origin + 600 * second
            drive(until: deadline, from: origin) { seen.done == total }
            let done = seen.done
            let allSeen = sim.now
            result.converged = done == total && waitConverged(until: deadline)
            let times = seen.times
            result.convergence = Distribution(times)
            result.timeline = timeline(times, of: n)
            result.newsLabel = "nodes that see all \(n) members alive after the heal"
            // Healed: when the last node saw everyone alive (or, if views flapped after that,
            // when the whole swarm was confirmed converged).
            if result.converged { result.healMs = Double((sim.now == allSeen ? allSeen : sim.now) - origin) / 1e6 }
            if crossDead < crossPairs {
                result.failure =
                    "partition too short: only \(crossDead) of \(crossPairs) cross-partition views were dead at the heal; "
                    + stragglers.joined(separator: "; ")
            }
            if !result.converged {
                result.failure =
                    "did not converge: \(total - done) nodes never saw everyone alive again within 600 s of the heal"
            }
        }

        // MARK: steady

        mutating func steady(_ result: inout SimulationResult) {
            startConverged()
            let duration = Int64((options.durationSeconds ?? 600) * 1e9)
            measureLoad(&result, from: min(warmup, duration / 10), to: duration)
            result.falsePositives = sim.falselyDeclaredDead.count
            result.converged = n > 2000 ? sim.falselyDeclaredDead.isEmpty : sim.isConverged()
            if !result.converged { result.failure = "the swarm did not stay converged" }
            result.rttError = sim.coordinateError(pairs: min(2000, n * (n - 1) / 2), rng: &rng)
        }

        // MARK: write

        mutating func write(_ result: inout SimulationResult) {
            startConverged()
            sim.run(until: warmup)
            let writer = rng.below(n)
            let origin = sim.now
            var heldAt = [Double?](repeating: nil, count: n)
            var held = 0
            var target: Dot?
            sim.onEvent = { s, i, event in
                guard case .keyChanged(let change) = event, change.record.dot == target, heldAt[i] == nil else {
                    return
                }
                heldAt[i] = Double(s.now - origin) / 1e6
                held += 1
            }
            var value = [UInt8](repeating: 0, count: 100)
            for k in value.indices { value[k] = UInt8(truncatingIfNeeded: rng.next()) }
            // The writer's own copy counts at time 0: it holds the record as it writes.
            target = Dot(origin: sim.nodes[writer].id, counter: 1)
            guard let record = sim.put(writer, key: "colony/write", value: value) else {
                result.failure = "the write was refused"
                return
            }
            target = record.dot
            let deadline = origin + max(60 * second, 30 * period)
            drive(until: deadline, from: origin) { held == n }
            let times = heldAt.compactMap { $0 }
            result.convergence = Distribution(times)
            result.timeline = timeline(times, of: n)
            result.newsLabel = "nodes that hold the write"
            result.falsePositives = sim.falselyDeclaredDead.count
            result.state.acknowledgedWrites = 1
            result.state.lostWrites = held == n ? 0 : 1
            result.converged = held == n
            if !result.converged {
                result.failure =
                    "did not converge: \(n - held) of \(n) nodes never received the write within \(Double(deadline - origin) / 1e9) s"
            }
        }

        // MARK: state-chaos

        mutating func stateChaos(_ result: inout SimulationResult) {
            startConverged()
            sim.run(until: warmup / 2)
            let start = sim.now
            let duration = Int64((options.durationSeconds ?? 60) * 1e9)
            let end = start + duration
            let keys = (0..<16).map { "k\($0)" }
            // Writes: ~20/s swarm-wide. 60% last-writer-wins, 25% read-modify-write with the
            // read's context, 15% blind (concurrent by construction); 10% of all are deletes.
            var t = start
            var writeNo = 0
            while t < end {
                t += Int64(rng.below(100_000_000))
                let node = rng.below(n)
                let key = keys[rng.below(keys.count)]
                let style = rng.below(100)
                let delete = rng.below(10) == 0
                writeNo += 1
                let value: [UInt8]? = delete ? nil : Array("v\(writeNo)".utf8)
                sim.schedule(at: t) { s in
                    guard s.nodes[node].isUp, let core = s.nodes[node].core else { return }
                    if style < 60 {
                        s.put(node, key: key, value: value)
                    } else if style < 85 {
                        s.put(node, key: key, value: value, read: core.get(key))
                    } else {
                        s.put(node, key: key, value: value, read: ReadResult(siblings: [], context: CausalContext()))
                    }
                }
            }
            // Crashes with restarts: every ~8 s a random node crashes (host or process) and
            // comes back 2–6 s later from its durable log, rejoining through a live node.
            var c = start + 3 * second
            while c < end - 10 * second {
                let victim = rng.below(n)
                let kind: Simulator.CrashKind = rng.below(2) == 0 ? .host : .process
                let down = 2 * second + Int64(rng.below(Int(4 * second)))
                let seedNode = (victim + 1 + rng.below(n - 1)) % n
                sim.schedule(at: c) { s in s.crash(victim, kind: kind) }
                sim.schedule(at: c + down) { s in
                    guard !s.nodes[victim].isUp else { return }
                    s.start(victim)
                    s.join(victim, seeds: [seedNode])
                }
                c += 6 * second + Int64(rng.below(Int(4 * second)))
            }
            // A partition in halves from 1/3 to 2/3 of the run, then healed.
            var groups = [UInt8](repeating: 1, count: n)
            for k in rng.sample(n / 2, from: Array(0..<n)) { groups[k] = 2 }
            sim.schedule(at: start + duration / 3) { s in s.partition(groups) }
            sim.schedule(at: start + 2 * duration / 3) { s in s.heal() }
            var maxSiblings = 0
            sim.onEvent = { _, _, event in
                if case .keyChanged(let c) = event { maxSiblings = max(maxSiblings, c.siblings) }
            }
            drive(until: end, from: start) { false }
            result.state.maxSiblings = maxSiblings
            // Liveness: faults have stopped; all live nodes must end with the same state.
            let calm = sim.now
            let deadline = calm + 300 * second
            let origin = sim.now
            var stateAgreedAt: Int64?
            while sim.now < deadline {
                let agreed = divergentNodes() == 0
                if agreed && stateAgreedAt == nil { stateAgreedAt = sim.now }
                if sim.isConverged() && agreed { break }
                sim.run(until: min(deadline, sim.now + 500_000_000))
                progress?(Double(sim.now - origin) / Double(max(1, deadline - origin)))
            }
            let membership = sim.isConverged()
            let divergent = divergentNodes()
            let oracle = sim.oracle
            var lost = 0
            var lostExample: String?
            var falseSiblings = 0
            for i in sim.upNodes {
                let store = sim.nodes[i].core!.state
                for w in oracle.acknowledged where !oracle.accountedFor(w.dot, in: store.keyState(w.key)) {
                    lost += 1
                    if lostExample == nil { lostExample = "node \(i) lacks \(w.dot) on \(w.key)" }
                }
                for key in store.sortedKeys {
                    if let ks = store.keyState(key) { falseSiblings += oracle.falseSiblings(in: ks) }
                }
            }
            result.state.acknowledgedWrites = oracle.acknowledged.count
            result.state.lostWrites = lost
            result.state.divergentNodes = divergent
            result.state.falseSiblings = falseSiblings
            result.falsePositives = sim.falselyDeclaredDead.count
            result.healMs = Double(sim.now - calm) / 1e6
            result.state.stateConvergedMs = stateAgreedAt.map { Double($0 - calm) / 1e6 }
            result.converged = membership && divergent == 0
            if !membership {
                result.failure = "did not converge: membership views still differ 300 s after faults stopped"
            } else if divergent > 0 {
                result.failure =
                    "did not converge: \(divergent) live nodes hold a different state 300 s after faults stopped"
            } else if lost > 0 {
                result.failure = "\(lost) acknowledged writes lost (\(lostExample ?? ""))"
            } else if falseSiblings > 0 {
                result.failure = "\(falseSiblings) false siblings (causally ordered writes left side by side)"
            }
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
