import ColonyCore

// The membership scenarios: join, crash and pause, bootstrap, partition, steady.

extension Simulation.Context {
    // MARK: join

    mutating func join(_ result: inout SimulationResult) {
        startConverged()
        let joiner = sim.addNodes(1).lowerBound
        let joinerID = sim.nodes[joiner].id
        measureLoad(&result, from: Instant.zero + warmup / 2, to: Instant.zero + warmup)
        let seed = rng.below(n)
        var knownAt = [Double?](repeating: nil, count: n)
        var known = 0
        let joinAt = sim.now
        sim.onEvent = { s, i, event in
            guard i < knownAt.count, knownAt[i] == nil,
                case .memberChanged(let m, _) = event, m.id == joinerID, m.status == .alive
            else { return }
            knownAt[i] = (s.now - joinAt).inMilliseconds
            known += 1
        }
        sim.start(joiner)
        sim.join(joiner, seeds: [seed])
        let deadline = joinAt + max(.seconds(60), period * 30)
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
                + "\((deadline - joinAt).inSeconds) s"
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
            let pauseEnd = Instant.zero + warmup + .seconds(60)
            for p in pausers {
                schedulePauses(
                    p, from: Instant.zero + warmup / 2 + rng.duration(below: .seconds(5)), until: pauseEnd)
            }
        } else {
            measureLoad(&result, from: Instant.zero + warmup / 2, to: Instant.zero + warmup)
        }
        sim.run(until: Instant.zero + warmup)
        let crashAt = sim.now
        var firstSuspicion: Double?
        var deadAt = [Double?](repeating: nil, count: n)
        var deadCount = 0
        sim.onEvent = { s, i, event in
            guard case .memberChanged(let m, _) = event, m.id == victimID else { return }
            let t = (s.now - crashAt).inMilliseconds
            if m.status != .alive, firstSuspicion == nil { firstSuspicion = t }
            if m.status == .dead, deadAt[i] == nil {
                deadAt[i] = t
                deadCount += 1
            }
        }
        sim.crash(victim, kind: options.crash.kind)
        let detectDeadline = crashAt + maxSuspicion + .seconds(60)
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
                + "\((detectDeadline - crashAt).inSeconds) s"
            return
        }
        // Liveness: once faults stop, every live node must see every live node alive.
        let calm = max(sim.now, pauses ? Instant.zero + warmup + .seconds(60) + .seconds(5) : sim.now)
        sim.run(until: calm)
        let livenessDeadline = calm + maxSuspicion + .seconds(120)
        result.converged = waitConverged(until: livenessDeadline, expectedGone: [victim])
        if !result.converged {
            result.failure =
                "did not converge: live nodes still disagree \((livenessDeadline - calm).inSeconds) s after "
                + "faults stopped"
        }
    }

    mutating func pickPausers(excluding victim: Int) -> [Int] {
        rng.sample(max(1, n / 10), from: Array(0..<n).filter { $0 != victim })
    }

    // MARK: bootstrap

    mutating func bootstrap(_ result: inout SimulationResult) {
        sim.addNodes(n)
        let seen = trackAllAlive(from: .zero)
        let total = n
        sim.start(0)
        for i in 1..<n {
            let at = Instant.zero + rng.duration(below: .milliseconds(100))
            sim.schedule(at: at) { s in
                s.start(i)
                s.join(i, seeds: [0])
            }
        }
        let limit = max(.seconds(120), period * 60)
        drive(until: Instant.zero + limit) { seen.done == total }
        let times = seen.times
        let done = seen.done
        result.convergence = Distribution(times)
        result.timeline = timeline(times, of: n)
        result.newsLabel = "nodes that see all \(n) members alive"
        result.converged = done == total && sim.isConverged()
        if !result.converged {
            result.failure =
                "did not converge: \(total - done) of \(total) nodes did not see all members alive within "
                + "\(limit.wholeSeconds) s"
        }
    }

    // MARK: partition

    mutating func partition(_ result: inout SimulationResult) {
        startConverged()
        sim.run(until: Instant.zero + warmup)
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
        let bound = splitAt + maxSuspicion * 2 + settings.pushPullPeriod(members: n) + .seconds(60)
        drive(until: bound, from: splitAt) { crossDead == crossPairs }
        sim.run(until: sim.now + .seconds(5))
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
        let deadline = origin + .seconds(600)
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
        if result.converged { result.healMs = ((sim.now == allSeen ? allSeen : sim.now) - origin).inMilliseconds }
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
        let duration = options.duration
        measureLoad(&result, from: Instant.zero + min(warmup, duration / 10), to: Instant.zero + duration)
        result.falsePositives = sim.falselyDeclaredDead.count
        result.converged = n > 2000 ? sim.falselyDeclaredDead.isEmpty : sim.isConverged()
        if !result.converged { result.failure = "the swarm did not stay converged" }
        result.rttError = sim.coordinateError(pairs: min(2000, n * (n - 1) / 2), rng: &rng)
    }
}
