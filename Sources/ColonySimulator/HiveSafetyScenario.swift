import ColonyCore

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
        let end = start + options.duration
        var t = start
        var healAt = Instant.zero
        var faults = 0
        while t < end {
            t += .milliseconds(300)
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
                healAt = t + .milliseconds(200) + rng.duration(below: .milliseconds(1300))
            case 1:
                sim.pause(victim.node, for: .milliseconds(100) + rng.duration(below: .milliseconds(900)))
            default:
                let up = sim.upNodes
                sim.pause(up[rng.below(up.count)], for: .milliseconds(100) + rng.duration(below: .milliseconds(900)))
            }
            faults += 1
        }
        sim.heal()
        result.hiveSafety.faults = faults
        guard waitHiveFormed(until: sim.now + .seconds(60)) != nil else {
            result.failure = "after the faults stopped the hive did not form again within 60 s"
            return
        }
        result.converged = true
    }
}
