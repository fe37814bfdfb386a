import ColonyCore
import Foundation

// The hive scenarios (issue #6): the hive forms; hive (broadcasts through queens) and
// queen-loss. Split, hive-safety and evict have files of their own.

extension NodeCore {
    /// A queen holding her lease, or a worker hearing its queen (homeless members and
    /// candidates route through no one): this member stands in a formed hive.
    var routesThroughLeasedQueen: Bool { hive.role == .queen ? holdsLease : isRouting }
}

extension Simulation.Context {
    /// Every up node is in a cell and routes through a queen that holds her lease.
    func hiveFormed() -> Bool {
        sim.upNodes.allSatisfy { i in sim.nodes[i].core?.routesThroughLeasedQueen ?? false }
    }

    /// A converged swarm of N forms its hive: when, and its shape, go into `result` (or why
    /// it did not form). False if it did not.
    mutating func formHive(_ result: inout SimulationResult) -> Bool {
        startConverged()
        guard let formed = waitHiveFormed(until: Instant.zero + .seconds(120)) else {
            let homeless = sim.upNodes.filter { sim.nodes[$0].core?.hive.role == .homeless }.count
            result.failure = "the hive did not form within 120 s (\(queens().count) queens, \(homeless) homeless)"
            return false
        }
        result.hive.hiveFormedMs = formed.milliseconds
        recordHiveShape(&result)
        return true
    }

    func waitHiveFormed(until deadline: Instant) -> Instant? {
        while sim.now < deadline {
            if hiveFormed() { return sim.now }
            sim.run(until: min(deadline, sim.now + .milliseconds(50)))
        }
        return hiveFormed() ? sim.now : nil
    }

    /// Queens now, with their cells' sizes.
    func queens() -> [(node: Int, cell: CellID, size: Int)] {
        sim.upNodes.compactMap { i in
            guard let c = sim.nodes[i].core, c.hive.role == .queen, let cell = c.hive.cell else { return nil }
            return (i, cell, c.hive.roster?.count ?? 0)
        }
    }

    func recordHiveShape(_ result: inout SimulationResult) {
        let q = queens()
        result.hive.cells = q.count
        result.hive.cellSizes = Distribution(q.map { Double($0.size) })
    }

    /// Nearness: per worker, the true RTT to its queen ÷ that to the nearest queen with room
    /// (its own included: a full cell's member compares with the open ones).
    func recordQueenRTT(_ result: inout SimulationResult) {
        let q = queens()
        let open = q.filter { $0.size < settings.hive.cellHighWater }
        var ratios: [Double] = []
        for i in sim.upNodes {
            guard let c = sim.nodes[i].core, c.hive.role == .worker, let queen = c.hive.queen,
                let qi = sim.index(of: queen)
            else { continue }
            let mine = sim.trueRTT(i, qi)
            let best = open.map { sim.trueRTT(i, $0.node) }.reduce(mine, Swift.min)
            if best > 0 { ratios.append(mine / best) }
        }
        result.hive.queenRTTRatio = Distribution(ratios)
    }

    // MARK: hive

    /// `hive`: a converged swarm organises into cells; then many senders broadcast. Reports
    /// formation time, relative message redundancy (payloads sent ÷ (N − 1) per broadcast,
    /// minus 1), delivery, last delivery hop and latency to the last node. `--no-hive` runs the
    /// same workload over plain gossip.
    mutating func hive(_ result: inout SimulationResult) {
        if options.hive.formCells {
            guard formHive(&result) else { return }
            sim.run(until: sim.now + .seconds(2))
        } else {
            startConverged()
            sim.run(until: Instant.zero + warmup)
        }
        let all = Set(0..<n)
        let tracker = BroadcastTracker(receivers: all)
        trackBroadcasts(tracker)
        let count = options.hive.broadcastCount
        let start = sim.now + .milliseconds(100)
        let window = Duration.seconds(10)
        let sentBefore = sim.payloadsSent
        let bytesBefore = sim.totalBytesSent
        scheduleBroadcasts(count, from: start, over: window, tracker: tracker)
        let deadline = start + window + .seconds(60)
        drive(until: deadline, from: start) { sim.now > start + window && tracker.allDelivered }
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        // Nearness needs settled coordinates (minutes of probes): `--duration` runs on first.
        if options.duration > .zero { drive(until: sim.now + options.duration, from: sim.now) { false } }
        if options.hive.formCells { recordQueenRTT(&result) }
        result.rttError = sim.coordinateError(pairs: 2000, rng: &rng)
        result.bytesPerNodePerSecond =
            Double(sim.totalBytesSent - bytesBefore) / Double(n) / (sim.now - start).inSeconds
        result.converged = result.hive.deliveryRatio == 1
        if !result.converged {
            result.failure = String(
                format: "broadcasts not delivered everywhere: delivery ratio %.5f", result.hive.deliveryRatio ?? 0)
        }
    }
    // MARK: queen-loss

    func upVoters(of roster: Roster, except: Int) -> Set<Int> {
        Set(
            roster.voters.compactMap { v in
                sim.index(of: v.id).flatMap { $0 != except && sim.nodes[$0].isUp ? $0 : nil }
            })
    }

    /// `queen-loss`: queens crash one at a time (`--rounds`, default 20); each time, the time
    /// from the crash until a majority of her cell's surviving voters follows a new queen.
    /// Then `--kill` of all nodes (default 20%), a queen among them, crash at once while
    /// broadcasts flow: every broadcast from a survivor must reach every survivor.
    mutating func queenLoss(_ result: inout SimulationResult) {
        guard formHive(&result) else { return }
        sim.run(until: sim.now + .seconds(2))
        var failovers: [Double] = []
        var elections: [Double] = []
        let rounds = options.queenLoss.roundCount
        rounds: for _ in 0..<rounds {
            switch crashOneQueen(&result) {
            case .noCandidate: break rounds
            case .skipped: continue
            case .failed: return
            case .done(let failover, let election):
                failovers.append(failover)
                if let election { elections.append(election) }
            }
        }
        result.queenLoss.failover = Distribution(failovers)
        result.queenLoss.electionMs = Distribution(elections)
        massFailure(&result)
    }

    enum FailoverRound {
        /// No cell can elect any more.
        case noCandidate
        /// The chosen queen had no roster.
        case skipped
        /// Her cell had no new queen in time (`result.failure` says so).
        case failed
        /// Milliseconds from the crash until a majority followed a new queen, and until she
        /// was elected (if seen).
        case done(failover: Double, election: Double?)
    }

    /// Crash the queen of a random cell that can still elect, and time her replacement.
    mutating func crashOneQueen(_ result: inout SimulationResult) -> FailoverRound {
        // A cell that can still elect: its live voters, the queen not counted, are a
        // majority of its roster (earlier victims may still be on it).
        let candidates = queens().filter { q in
            guard q.size >= 3, let roster = sim.nodes[q.node].core?.hive.roster else { return false }
            return upVoters(of: roster, except: q.node).count >= roster.majority
        }
        guard !candidates.isEmpty else { return .noCandidate }
        let victim = candidates[rng.below(candidates.count)]
        guard let core = sim.nodes[victim.node].core, let roster = core.hive.roster else { return .skipped }
        let oldTerm = core.hive.term
        let survivors = upVoters(of: roster, except: victim.node)
        let needed = survivors.count / 2 + 1
        let cell = victim.cell
        var accepted: Set<Int> = []
        var electedAt: Instant?
        var acceptedAt: Instant?
        let crashAt = sim.now
        sim.onEvent = { s, i, event in
            guard case .hive(let change) = event else { return }
            switch change {
            case .elected(let c, let t) where c == cell && t > oldTerm:
                if electedAt == nil { electedAt = s.now }
                accepted.insert(i)
            case .accepted(let c, let t, _) where c == cell && t > oldTerm:
                accepted.insert(i)
            default:
                break
            }
            if acceptedAt == nil && accepted.intersection(survivors).count >= needed { acceptedAt = s.now }
        }
        sim.crash(victim.node)
        drive(until: crashAt + .seconds(10), from: crashAt) { acceptedAt != nil }
        guard let at = acceptedAt else {
            result.failure = "cell \(cell) had no new queen 10 s after its queen (node \(victim.node)) crashed"
            sim.onEvent = nil
            return .failed
        }
        let round = FailoverRound.done(
            failover: (at - crashAt).inMilliseconds, election: electedAt.map { ($0 - crashAt).inMilliseconds })
        sim.onEvent = nil
        sim.run(until: sim.now + .seconds(2))
        return round
    }

    /// `--kill` of the up nodes (a queen among them) crash at once while broadcasts flow:
    /// every broadcast from a survivor must reach every survivor.
    mutating func massFailure(_ result: inout SimulationResult) {
        let fraction = options.queenLoss.killShare
        let up = sim.upNodes
        let killCount = min(up.count - 2, Int((Double(up.count) * fraction).rounded()))
        var victims = Set(rng.sample(killCount, from: up))
        if let q = queens().first, !victims.contains(q.node) {
            if let drop = victims.sorted().first { victims.remove(drop) }
            victims.insert(q.node)
        }
        let survivors = Set(up).subtracting(victims)
        let tracker = BroadcastTracker(receivers: survivors)
        trackBroadcasts(tracker)
        let start = sim.now
        let killAt = start + .seconds(1)
        let window = Duration.seconds(10)
        let sentBefore = sim.payloadsSent
        scheduleBroadcasts(
            options.hive.broadcastCount, from: start, over: window, tracker: tracker, senders: survivors.sorted())
        sim.schedule(at: killAt) { s in for v in victims.sorted() { s.crash(v) } }
        let deadline = start + window + .seconds(120)
        drive(until: deadline, from: start) { sim.now > start + window && tracker.allDelivered }
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        result.queenLoss.killed = victims.count
        let required = fraction > 0.5 ? 0.999 : 1.0
        result.converged = (result.hive.deliveryRatio ?? 0) >= required
        if !result.converged {
            result.failure = String(
                format: "delivery to survivors %.5f after killing %d of %d nodes (required %.3f)",
                result.hive.deliveryRatio ?? 0, victims.count, up.count, required)
        }
    }
}
