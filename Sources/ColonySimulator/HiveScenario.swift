import ColonyCore
import Foundation

/// Per broadcast: when it was sent, who holds it, and at how many hops (Plumtree's
/// measures: relative message redundancy, delivery, last delivery hop). Deliveries are
/// counted as they happen among `receivers`, so "all delivered?" costs nothing per step.
final class BroadcastTracker {
    struct Item {
        var origin: Int
        var sentAt: Int64
        var holders: [Int: Int] = [:] // node → hops
        var lastAt: Int64
    }

    /// The nodes whose deliveries count (the origin of each broadcast excepted), and whose
    /// last delivery times a broadcast (others, such as later joiners, only relay).
    let receivers: Set<Int>
    var items: [Dot: Item] = [:]
    var order: [Dot] = []
    private(set) var delivered = 0
    private(set) var expected = 0

    init(receivers: Set<Int>) { self.receivers = receivers }

    var allDelivered: Bool { delivered == expected }

    func sent(_ id: Dot, from origin: Int, at t: Int64) {
        items[id] = Item(origin: origin, sentAt: t, holders: [origin: 0], lastAt: t)
        order.append(id)
        expected += receivers.count - (receivers.contains(origin) ? 1 : 0)
    }

    func delivered(_ id: Dot, at node: Int, from sender: Int?, time: Int64) {
        guard var item = items[id], item.holders[node] == nil else { return }
        let hop = sender.flatMap { item.holders[$0] }.map { $0 + 1 } ?? 1
        item.holders[node] = hop
        items[id] = item
        guard receivers.contains(node) else { return }
        items[id]!.lastAt = time
        delivered += 1
    }
}

extension Simulation.Context {
    /// A queen holding her lease, or a worker hearing its queen (homeless members and
    /// candidates route through no one).
    func routesThroughLeasedQueen(_ core: NodeCore) -> Bool {
        core.hive.role == .queen ? core.holdsLease : core.isRouting
    }

    /// Every up node is in a cell and routes through a queen that holds her lease.
    func hiveFormed() -> Bool {
        sim.upNodes.allSatisfy { i in sim.nodes[i].core.map(routesThroughLeasedQueen) ?? false }
    }

    /// A converged swarm of N forms its hive: when, and its shape, go into `result` (or why
    /// it did not form). False if it did not.
    mutating func formHive(_ result: inout SimulationResult) -> Bool {
        startConverged()
        guard let formed = waitHiveFormed(until: 120 * Simulation.second) else {
            result.failure =
                "the hive did not form within 120 s (\(queens().count) queens, \(sim.upNodes.filter { sim.nodes[$0].core?.hive.role == .homeless }.count) homeless)"
            return false
        }
        result.hive.hiveFormedMs = Double(formed) / 1e6
        recordHiveShape(&result)
        return true
    }

    func waitHiveFormed(until deadline: Int64) -> Int64? {
        while sim.now < deadline {
            if hiveFormed() { return sim.now }
            sim.run(until: min(deadline, sim.now + 50_000_000))
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

    func trackBroadcasts(_ tracker: BroadcastTracker, also: ((Simulator, Int, Event) -> Void)? = nil) {
        sim.onEvent = { s, i, event in
            if case .userEvent(let e, _) = event { tracker.delivered(e.id, at: i, from: s.deliveringFrom, time: s.now) }
            also?(s, i, event)
        }
    }

    /// Send `count` events from random up nodes (`senders`, if given) spread over `window`.
    mutating func scheduleBroadcasts(
        _ count: Int, from start: Int64, over window: Int64, tracker: BroadcastTracker, senders: [Int]? = nil
    ) {
        for k in 0..<count {
            let at = start + Int64(rng.below(Int(max(1, window))))
            let pick = rng.next()
            sim.schedule(at: at) { s in
                let pool = senders ?? s.upNodes
                let up = pool.filter { s.nodes[$0].isUp }
                guard !up.isEmpty else { return }
                let i = up[Int(pick % UInt64(up.count))]
                if let e = s.event(i, name: "b", payload: Array("broadcast \(k)".utf8)) {
                    tracker.sent(e.id, from: i, at: s.now)
                }
            }
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
        if options.hive {
            guard formHive(&result) else { return }
            sim.run(until: sim.now + 2 * Simulation.second)
        } else {
            startConverged()
            sim.run(until: warmup)
        }
        let all = Set(0..<n)
        let tracker = BroadcastTracker(receivers: all)
        trackBroadcasts(tracker)
        let count = options.broadcasts ?? 200
        let start = sim.now + 100_000_000
        let window = 10 * Simulation.second
        let sentBefore = sim.payloadsSent
        let bytesBefore = sim.totalBytesSent
        scheduleBroadcasts(count, from: start, over: window, tracker: tracker)
        let deadline = start + window + 60 * Simulation.second
        drive(until: deadline, from: start) { sim.now > start + window && tracker.allDelivered }
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        // Nearness needs settled coordinates (minutes of probes): `--duration` runs on first.
        if let settle = options.durationSeconds, settle > 0 {
            drive(until: sim.now + Int64(settle * 1e9), from: sim.now) { false }
        }
        if options.hive { recordQueenRTT(&result) }
        result.rttError = sim.coordinateError(pairs: 2000, rng: &rng)
        result.bytesPerNodePerSecond =
            Double(sim.totalBytesSent - bytesBefore) / Double(n) / (Double(sim.now - start) / 1e9)
        result.converged = result.hive.deliveryRatio == 1
        if !result.converged {
            result.failure = String(
                format: "broadcasts not delivered everywhere: delivery ratio %.5f", result.hive.deliveryRatio ?? 0)
        }
    }

    func finishBroadcasts(_ result: inout SimulationResult, tracker: BroadcastTracker, sentBefore: Int) {
        result.hive.broadcasts = tracker.order.count
        result.hive.deliveryRatio = tracker.expected == 0 ? nil : Double(tracker.delivered) / Double(tracker.expected)
        // Only the receivers that could deliver count (after a mass crash, the survivors).
        let perBroadcast = Double(max(1, tracker.order.count)) * Double(max(1, tracker.receivers.count - 1))
        result.hive.rmr = Double(sim.payloadsSent - sentBefore) / perBroadcast - 1
        result.hive.ldh = tracker.order.compactMap { tracker.items[$0]!.holders.values.max() }.max()
        result.hive.broadcastLatency = Distribution(
            tracker.order.map { Double(tracker.items[$0]!.lastAt - tracker.items[$0]!.sentAt) / 1e6 })
        result.hive.rateLimited = sim.nodes.compactMap { $0.core?.stats.rateLimited }.reduce(0, +)
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
        sim.run(until: sim.now + 2 * Simulation.second)
        var failovers: [Double] = []
        var elections: [Double] = []
        let rounds = options.rounds ?? 20
        for _ in 0..<rounds {
            // A cell that can still elect: its live voters, the queen not counted, are a
            // majority of its roster (earlier victims may still be on it).
            let candidates = queens().filter { q in
                guard q.size >= 3, let roster = sim.nodes[q.node].core?.hive.roster else { return false }
                return upVoters(of: roster, except: q.node).count >= roster.majority
            }
            guard !candidates.isEmpty else { break }
            let victim = candidates[rng.below(candidates.count)]
            guard let core = sim.nodes[victim.node].core, let roster = core.hive.roster else { continue }
            let oldTerm = core.hive.term
            let survivors = upVoters(of: roster, except: victim.node)
            let needed = survivors.count / 2 + 1
            let cell = victim.cell
            var accepted: Set<Int> = []
            var electedAt: Int64?
            var acceptedAt: Int64?
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
            drive(until: crashAt + 10 * Simulation.second, from: crashAt) { acceptedAt != nil }
            guard let at = acceptedAt else {
                result.failure = "cell \(cell) had no new queen 10 s after its queen (node \(victim.node)) crashed"
                sim.onEvent = nil
                return
            }
            failovers.append(Double(at - crashAt) / 1e6)
            if let e = electedAt { elections.append(Double(e - crashAt) / 1e6) }
            sim.onEvent = nil
            sim.run(until: sim.now + 2 * Simulation.second)
        }
        result.hive.failover = Distribution(failovers)
        result.hive.electionMs = Distribution(elections)

        // Mass failure while broadcasts flow.
        let fraction = options.killFraction ?? 0.2
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
        let killAt = start + Simulation.second
        let window = 10 * Simulation.second
        let sentBefore = sim.payloadsSent
        scheduleBroadcasts(
            options.broadcasts ?? 200, from: start, over: window, tracker: tracker, senders: survivors.sorted())
        sim.schedule(at: killAt) { s in for v in victims.sorted() { s.crash(v) } }
        let deadline = start + window + 120 * Simulation.second
        drive(until: deadline, from: start) { sim.now > start + window && tracker.allDelivered }
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        result.hive.killed = victims.count
        let required = fraction > 0.5 ? 0.999 : 1.0
        result.converged = (result.hive.deliveryRatio ?? 0) >= required
        if !result.converged {
            result.failure = String(
                format: "delivery to survivors %.5f after killing %d of %d nodes (required %.3f)",
                result.hive.deliveryRatio ?? 0, victims.count, up.count, required)
        }
    }
}

extension Simulation.Context {
    // MARK: split

    /// `split`: a formed hive doubles (`--joiners`, default N, joining over 10 s through
    /// random seeds) while the first N members broadcast; cells that fill breed. Each
    /// split's time runs from the queen's decision until every live voter she handed over
    /// follows the new cell's queen; every broadcast must reach every original member. Then
    /// the smallest cell shrinks below its low-water mark (members leave the swarm), and
    /// the merge time runs until its remaining members route through other cells.
    mutating func split(_ result: inout SimulationResult) {
        guard formHive(&result) else { return }
        sim.run(until: sim.now + 2 * Simulation.second)

        struct Split {
            var start: Int64
            var voters: Set<Int>
            var following: Set<Int> = []
            var doneAt: Int64?
        }
        var splits: [CellID: Split] = [:]
        var order: [CellID] = []
        let tracker = BroadcastTracker(receivers: Set(0..<n))
        trackBroadcasts(tracker) { s, i, event in
            guard case .hive(let change) = event else { return }
            let newCell: CellID
            switch change {
            case .splitting(_, let cell, _, let voters):
                splits[cell] = Split(start: s.now, voters: Set(voters.compactMap { s.index(of: $0) }))
                order.append(cell)
                return
            case .elected(let cell, _), .accepted(let cell, _, _):
                newCell = cell
            default:
                return
            }
            guard var split = splits[newCell], split.doneAt == nil else { return }
            split.following.insert(i)
            if split.voters.filter({ s.nodes[$0].isUp }).isSubset(of: split.following) { split.doneAt = s.now }
            splits[newCell] = split
        }
        let joiners = options.joiners ?? n
        let added = sim.addNodes(joiners)
        let start = sim.now
        let window = 10 * Simulation.second
        for j in added {
            let at = start + Int64(rng.below(Int(window)))
            let seed = rng.below(n)
            sim.schedule(at: at) { s in
                s.start(j)
                s.join(j, seeds: [seed])
            }
        }
        let sentBefore = sim.payloadsSent
        scheduleBroadcasts(
            options.broadcasts ?? 200, from: start, over: window + 2 * Simulation.second, tracker: tracker,
            senders: Array(0..<n))
        let deadline = start + window + 60 * Simulation.second
        let everyone = sim.nodes.count
        drive(until: deadline, from: start) {
            sim.now > start + window + 2 * Simulation.second && tracker.allDelivered
                && sim.upNodes.count == everyone && hiveFormed() && splits.values.allSatisfy { $0.doneAt != nil }
                && queens().allSatisfy { $0.size < settings.hive.cellHighWater }
        }
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        // Joiners catch up on earlier broadcasts, so payloads ÷ receivers is no redundancy.
        result.hive.rmr = nil
        recordHiveShape(&result)
        result.hive.splits = order.count
        result.hive.splitTime = Distribution(
            order.compactMap { c in splits[c]!.doneAt.map { Double($0 - splits[c]!.start) / 1e6 } })
        result.hive.splitsIncomplete = order.filter { splits[$0]!.doneAt == nil }.count
        if result.hive.deliveryRatio != 1 {
            result.failure = String(
                format: "broadcasts lost while cells split: delivery ratio %.5f", result.hive.deliveryRatio ?? 0)
            return
        }
        if order.isEmpty {
            result.failure = "no cell split while the hive grew from \(n) to \(everyone) members"
            return
        }
        if result.hive.splitsIncomplete! > 0 {
            result.failure = "\(result.hive.splitsIncomplete!) of \(order.count) splits never completed"
            return
        }
        if !hiveFormed() {
            result.failure = "after growing, not every member routes through a leased queen"
            return
        }
        sim.onEvent = nil
        sim.run(until: sim.now + 2 * Simulation.second)

        // Merge: the smallest cell loses members until it is below its low-water mark.
        let low = settings.hive.lowWaterMark
        guard let victim = queens().filter({ $0.size >= 2 }).min(by: { ($0.size, $0.cell) < ($1.size, $1.cell) }),
            let roster = sim.nodes[victim.node].core?.hive.roster
        else {
            result.failure = "no cell to shrink"
            return
        }
        let members = roster.voters.compactMap { sim.index(of: $0.id) }.filter {
            sim.nodes[$0].isUp && $0 != victim.node
        }
        let keep = max(1, low - 2)
        let leavers = Array(members.dropFirst(keep - 1))
        let remaining = Set(members.prefix(keep - 1) + [victim.node])
        // One at a time (a cell that loses most of its voters at once loses its majority, and
        // its members re-home instead: the queen-loss scenario's case).
        let spacing: Int64 = 200_000_000
        for (k, l) in leavers.enumerated() { sim.schedule(at: sim.now + Int64(k) * spacing) { s in s.leave(l) } }
        let shrinkAt = sim.now + Int64(max(0, leavers.count - 1)) * spacing
        sim.run(until: shrinkAt)
        let mergeDeadline = shrinkAt + settings.hive.mergeAfter.nanosecondsInt64 + 30 * Simulation.second
        func merged() -> Bool {
            remaining.allSatisfy { i in
                guard let c = sim.nodes[i].core, sim.nodes[i].isUp else { return true }
                return c.hive.cell != nil && c.hive.cell != victim.cell && routesThroughLeasedQueen(c)
            }
        }
        drive(until: mergeDeadline, from: shrinkAt) { merged() }
        if merged() {
            result.hive.merges = 1
            result.hive.mergeTime = Distribution([Double(sim.now - shrinkAt) / 1e6])
        } else {
            result.hive.merges = 0
            result.failure =
                "cell \(victim.cell) shrank to \(remaining.count) members (low-water mark \(low)) but did not merge within \((mergeDeadline - shrinkAt) / Simulation.second) s"
            return
        }
        result.converged = true
    }
}

extension Simulation.Context {
    // MARK: hive-safety

    /// `hive-safety`: once the hive has formed, every 300 ms one fault: a queen cut off from
    /// her cell (alone or with a few of her workers) for 0.2–1.5 s, or a queen or worker
    /// paused for 0.1–1 s; with `--loss`, clocks drifting. The simulator checks one queen
    /// per cell per term and one lease holder per cell at every step. After `--duration`
    /// (default 30 s) the faults stop and the hive must form again within 60 s.
    mutating func hiveSafety(_ result: inout SimulationResult) {
        guard formHive(&result) else { return }
        // Every member is honest: faults must not get any of them evicted.
        var evicted: Set<NodeID> = []
        sim.onEvent = { _, _, event in
            if case .evicted(let e) = event { evicted.insert(e.id) }
        }
        defer {
            result.hive.honestEvicted = evicted.count
            if !evicted.isEmpty {
                result.failure = (result.failure.map { $0 + "; " } ?? "") + "\(evicted.count) honest members evicted"
            }
        }
        let start = sim.now
        let end = start + Int64((options.durationSeconds ?? 30) * 1e9)
        var t = start
        var healAt: Int64 = 0
        var faults = 0
        while t < end {
            t += 300_000_000
            sim.run(until: t)
            if sim.partitioned && t >= healAt { sim.heal() }
            let q = queens()
            guard !q.isEmpty else { continue }
            let victim = q[rng.below(q.count)]
            switch rng.below(3) {
            case 0 where !sim.partitioned:
                // The queen and a few of her workers on one side, everyone else on the other.
                var groups = [UInt8](repeating: 0, count: sim.nodes.count)
                groups[victim.node] = 1
                if let roster = sim.nodes[victim.node].core?.hive.roster {
                    let workers = roster.voters.compactMap { sim.index(of: $0.id) }.filter { $0 != victim.node }
                    for w in rng.sample(min(workers.count, rng.below(max(1, workers.count / 2))), from: workers) {
                        groups[w] = 1
                    }
                }
                sim.partition(groups)
                healAt = t + 200_000_000 + Int64(rng.below(1_300_000_000))
            case 1:
                sim.pause(victim.node, forNanoseconds: 100_000_000 + Int64(rng.below(900_000_000)))
            default:
                let up = sim.upNodes
                sim.pause(up[rng.below(up.count)], forNanoseconds: 100_000_000 + Int64(rng.below(900_000_000)))
            }
            faults += 1
        }
        sim.heal()
        result.hive.faults = faults
        guard waitHiveFormed(until: sim.now + 60 * Simulation.second) != nil else {
            result.failure = "after the faults stopped the hive did not form again within 60 s"
            return
        }
        result.converged = true
    }
}
