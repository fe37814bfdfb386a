import ColonyCore

// The membership scenarios: join, crash and pause, bootstrap, partition, steady.

extension Simulation.Context {
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
        let deadline = joinAt + max(60 * Simulation.second, 30 * period)
        drive(until: deadline, from: joinAt) { known == n }
        let times = knownAt.compactMap { $0 }
        result.falsePositives = sim.falselyDeclaredDead.count
        result.converged = known == n
        result.convergence = Distribution(times)
        result.timeline = timeline(times, of: n)
        result.newsLabel = "nodes that see the new node alive"
        if !result.converged {
            result.failure =
                "did not converge: \(n - known) of \(n) nodes never saw the joiner alive within "
                + "\(Double(deadline - joinAt) / 1e9) s"
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
            let pauseEnd = warmup + 60 * Simulation.second
            for p in pausers {
                schedulePauses(p, from: warmup / 2 + Int64(rng.below(Int(5 * Simulation.second))), until: pauseEnd)
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
        sim.crash(victim, kind: options.crash.kind)
        let detectDeadline = crashAt + maxSuspicion + 60 * Simulation.second
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
                "did not converge: \(n - 1 - deadCount) live nodes never marked the crashed node dead within "
                + "\(Double(detectDeadline - crashAt) / 1e9) s"
            return
        }
        // Liveness: once faults stop, every live node must see every live node alive.
        let calm = max(sim.now, pauses ? warmup + 60 * Simulation.second + 5 * Simulation.second : sim.now)
        sim.run(until: calm)
        let livenessDeadline = calm + maxSuspicion + 120 * Simulation.second
        result.converged = waitConverged(until: livenessDeadline, expectedGone: [victim])
        if !result.converged {
            result.failure =
                "did not converge: live nodes still disagree \(Double(livenessDeadline - calm) / 1e9) s after "
                + "faults stopped"
        }
    }

    mutating func pickPausers(excluding victim: Int) -> [Int] {
        rng.sample(max(1, n / 10), from: Array(0..<n).filter { $0 != victim })
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
        let deadline = max(120 * Simulation.second, 60 * period)
        drive(until: deadline) { seen.done == total }
        let times = seen.times
        let done = seen.done
        result.convergence = Distribution(times)
        result.timeline = timeline(times, of: n)
        result.newsLabel = "nodes that see all \(n) members alive"
        result.converged = done == total && sim.isConverged()
        if !result.converged {
            result.failure =
                "did not converge: \(total - done) of \(total) nodes did not see all members alive within "
                + "\(deadline / Simulation.second) s"
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
        let bound = splitAt + 2 * maxSuspicion + settings.pushPullNanoseconds(members: n) + 60 * Simulation.second
        drive(until: bound, from: splitAt) { crossDead == crossPairs }
        sim.run(until: sim.now + 5 * Simulation.second)
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
        let deadline = origin + 600 * Simulation.second
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
}
