import ColonyCore
import Foundation

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
        sim.run(until: sim.now + .seconds(2))
        guard grow(&result) else { return }
        sim.onEvent = nil
        sim.run(until: sim.now + .seconds(2))
        shrinkAndMerge(&result)
    }

    /// The hive doubles while broadcasts flow; cells that fill split. False (and why, in
    /// `result.failure`) if a broadcast was lost, no cell split, a split never completed, or
    /// the grown hive is not formed.
    mutating func grow(_ result: inout SimulationResult) -> Bool {
        struct Split {
            var start: Instant
            var voters: Set<Int>
            var following: Set<Int> = []
            var doneAt: Instant?
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
        let joiners = options.split.joiners ?? n
        let added = sim.addNodes(joiners)
        let start = sim.now
        let window = Duration.seconds(10)
        for j in added {
            let at = start + rng.duration(below: window)
            let seed = rng.below(n)
            sim.schedule(at: at) { s in
                s.start(j)
                s.join(j, seeds: [seed])
            }
        }
        let sentBefore = sim.payloadsSent
        scheduleBroadcasts(
            options.hive.broadcastCount, from: start, over: window + .seconds(2), tracker: tracker,
            senders: Array(0..<n))
        let deadline = start + window + .seconds(60)
        let everyone = sim.nodes.count
        drive(until: deadline, from: start) {
            sim.now > start + window + .seconds(2) && tracker.allDelivered
                && sim.upNodes.count == everyone && hiveFormed() && splits.values.allSatisfy { $0.doneAt != nil }
                && queens().allSatisfy { $0.size < settings.hive.cellHighWater }
        }
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        // Joiners catch up on earlier broadcasts, so payloads ÷ receivers is no redundancy.
        result.hive.rmr = nil
        recordHiveShape(&result)
        result.split.splits = order.count
        result.split.splitTime = Distribution(
            order.compactMap { c in splits[c]!.doneAt.map { ($0 - splits[c]!.start).inMilliseconds } })
        result.split.splitsIncomplete = order.filter { splits[$0]!.doneAt == nil }.count
        if result.hive.deliveryRatio != 1 {
            result.failure = String(
                format: "broadcasts lost while cells split: delivery ratio %.5f", result.hive.deliveryRatio ?? 0)
            return false
        }
        if order.isEmpty {
            result.failure = "no cell split while the hive grew from \(n) to \(everyone) members"
            return false
        }
        if result.split.splitsIncomplete! > 0 {
            result.failure = "\(result.split.splitsIncomplete!) of \(order.count) splits never completed"
            return false
        }
        if !hiveFormed() {
            result.failure = "after growing, not every member routes through a leased queen"
            return false
        }
        return true
    }

    /// The smallest cell loses members until it is below its low-water mark; its remaining
    /// members must then route through other cells.
    mutating func shrinkAndMerge(_ result: inout SimulationResult) {
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
        let spacing = Duration.milliseconds(200)
        for (k, l) in leavers.enumerated() { sim.schedule(at: sim.now + spacing * k) { s in s.leave(l) } }
        let shrinkAt = sim.now + spacing * max(0, leavers.count - 1)
        sim.run(until: shrinkAt)
        let mergeDeadline = shrinkAt + settings.hive.mergeAfter + .seconds(30)
        func merged() -> Bool {
            remaining.allSatisfy { i in
                guard let c = sim.nodes[i].core, sim.nodes[i].isUp else { return true }
                return c.hive.cell != nil && c.hive.cell != victim.cell && c.routesThroughLeasedQueen
            }
        }
        drive(until: mergeDeadline, from: shrinkAt) { merged() }
        if merged() {
            result.split.merges = 1
            result.split.mergeTime = Distribution([(sim.now - shrinkAt).inMilliseconds])
        } else {
            result.split.merges = 0
            result.failure =
                "cell \(victim.cell) shrank to \(remaining.count) members (low-water mark \(low)) but did not "
                + "merge within \((mergeDeadline - shrinkAt).wholeSeconds) s"
            return
        }
        result.converged = true
    }
}
