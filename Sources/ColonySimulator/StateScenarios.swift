import ColonyCore

// The replicated-state scenarios (issue #4): write and state-chaos.

extension Simulation.Context {
    // MARK: write

    mutating func write(_ result: inout SimulationResult) {
        startConverged()
        sim.run(until: Instant.zero + warmup)
        let writer = rng.below(n)
        let origin = sim.now
        var heldAt = [Double?](repeating: nil, count: n)
        var held = 0
        var target: Dot?
        sim.onEvent = { s, i, event in
            guard case .keyChanged(let change) = event, change.record.dot == target, heldAt[i] == nil else {
                return
            }
            heldAt[i] = (s.now - origin).inMilliseconds
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
        let deadline = origin + max(.seconds(60), period * 30)
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
                "did not converge: \(n - held) of \(n) nodes never received the write within "
                + "\((deadline - origin).inSeconds) s"
        }
    }

    // MARK: state-chaos

    /// `state-chaos`: random writes (Workloads.swift) from all nodes under loss,
    /// duplication, crashes with restarts and a partition that heals (Faults.swift); then
    /// every live node must hold the same state, with no acknowledged write lost and no
    /// false siblings (the state oracle, StateOracle.swift).
    mutating func stateChaos(_ result: inout SimulationResult) {
        startConverged()
        sim.run(until: Instant.zero + warmup / 2)
        let start = sim.now
        let duration = options.duration
        let end = start + duration
        scheduleRandomWrites(from: start, until: end, keys: (0..<16).map { "k\($0)" })
        scheduleCrashRestarts(from: start + .seconds(3), until: end - .seconds(10))
        // A partition in halves from 1/3 to 2/3 of the run, then healed.
        var groups = [UInt8](repeating: 1, count: n)
        for k in rng.sample(n / 2, from: Array(0..<n)) { groups[k] = 2 }
        schedulePartition(groups, from: start + duration / 3, until: start + duration * 2 / 3)
        var maxSiblings = 0
        sim.onEvent = { _, _, event in
            if case .keyChanged(let c) = event { maxSiblings = max(maxSiblings, c.siblings) }
        }
        drive(until: end, from: start) { false }
        result.state.maxSiblings = maxSiblings
        // Liveness: faults have stopped; all live nodes must end with the same state.
        let calm = sim.now
        let deadline = calm + .seconds(300)
        let origin = sim.now
        var stateAgreedAt: Instant?
        while sim.now < deadline {
            let agreed = divergentNodes() == 0
            if agreed && stateAgreedAt == nil { stateAgreedAt = sim.now }
            if sim.isConverged() && agreed { break }
            sim.run(until: min(deadline, sim.now + .milliseconds(500)))
            reportProgress(from: origin, to: deadline)
        }
        result.falsePositives = sim.falselyDeclaredDead.count
        result.healMs = (sim.now - calm).inMilliseconds
        result.state.stateConvergedMs = stateAgreedAt.map { ($0 - calm).inMilliseconds }
        judgeState(&result)
    }

    /// After the faults: every live node against the oracle — acknowledged writes lost,
    /// false siblings, nodes whose state differs — and the verdict.
    func judgeState(_ result: inout SimulationResult) {
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
}
