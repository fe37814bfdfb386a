import ColonyCore

// The host-fault scenarios (issue 17): loss on every host, or one faulty host in a healthy
// swarm, as scripts/netharness.py injects the same faults into real agents in network
// namespaces — loss on every host's input and output, gray failure (one host at high loss
// both ways), one-way loss (it hears little but is heard), flip-flop (its inbound loss on
// and off every period) and stalls (its process stopped and continued, a GC pause). A
// healthy member must never be declared dead; a stalled one neither. After the fault, every
// node must see every member alive again.

extension Simulation.Context {
    mutating func hostFault(_ result: inout SimulationResult) {
        startConverged()
        sim.run(until: Instant.zero + warmup)
        // The faulty host (for `loss`, every host is faulty and none is singled out).
        let kind = options.scenario
        let host = kind == .loss ? nil : rng.below(n)
        let hostID = host.map { sim.nodes[$0].id }
        sim.strict = false
        let counts = HostFaultCounts()
        sim.onEvent = { s, i, event in
            if case .hive(let h) = event, counts.faultOn {
                switch h {
                case .elected, .founded: counts.queenTerms += 1
                case .steppedDown(_, _, let reason): counts.stepDowns[reason, default: 0] += 1
                default: break
                }
            }
            guard case .memberChanged(let m, let previous) = event, previous?.status != m.status else { return }
            if m.id == hostID {
                // Flapping, as the harness counts it: live (alive or suspect) to gone and back.
                if let previous, previous.status.isLive != m.status.isLive { counts.statusChanges += 1 }
                if m.status == .dead {
                    counts.deaths += 1
                    counts.deathObservers.insert(i)
                }
            } else if let j = s.index(of: m.id), s.nodes[j].isUp {
                if m.status == .suspect { counts.healthySuspicions += 1 }
                // A healthy member declared dead: by a healthy observer it is a false death;
                // by the faulty host, that host's own blindness (the harness tells them apart).
                if m.status == .dead {
                    if i == host { counts.deathsSeenByHost += 1 } else { counts.healthyDead.insert(j) }
                }
            }
        }
        let start = sim.now
        let end = scheduleFault(kind, host: host, from: start)
        counts.faultOn = true
        drive(until: end, from: start) { false }
        counts.faultOn = false
        // The fault is over: every node must see every member alive again.
        let calm = sim.now
        result.converged = waitConverged(until: calm + maxSuspicion + .seconds(120))
        result.hostFault.host = host
        result.hostFault.hostDeaths = counts.deaths
        result.hostFault.hostDeathObservers = counts.deathObservers.count
        result.hostFault.hostStatusChanges = counts.statusChanges
        result.hostFault.healthySuspicions = counts.healthySuspicions
        result.hostFault.deathsSeenOnlyByHost = counts.deathsSeenByHost
        result.hostFault.queenTermsDuringFault = counts.queenTerms
        result.hostFault.stepDownsDuringFault = counts.stepDowns
        result.hostFault.recoveredMs = result.converged ? (sim.now - calm).inMilliseconds : nil
        result.falsePositives = counts.healthyDead.count
        result.newsLabel = "all members alive after the fault"
        if !result.converged {
            result.failure =
                "did not converge: live nodes still disagree \((sim.now - calm).inSeconds) s after the fault's end"
        }
        if !counts.healthyDead.isEmpty {
            result.failure = "\(counts.healthyDead.count) healthy members were declared dead by healthy members"
        }
        if kind == .stall && counts.deaths > 0 {
            result.failure = "the stalled member was declared dead \(counts.deaths) times"
        }
    }

    /// Schedule the scenario's fault from `start` on `host` (every host for `loss`); returns
    /// when it ends.
    mutating func scheduleFault(_ kind: ScenarioKind, host: Int?, from start: Instant) -> Instant {
        let hostOptions = options.hostFault
        let end: Instant
        switch kind {
        case .loss:
            let loss = hostOptions.loss ?? 0.1
            end = start + options.duration
            for i in 0..<n { sim.setHostLoss(i, HostLoss(inbound: loss, outbound: loss)) }
            sim.schedule(at: end) { s in for i in 0..<s.nodes.count { s.setHostLoss(i, .none) } }
        case .gray, .oneway:
            guard let host else { preconditionFailure("a one-host fault without its host") }
            let loss = hostOptions.loss ?? 0.8
            end = start + options.duration
            let fault = kind == .gray ? HostLoss(inbound: loss, outbound: loss) : HostLoss(inbound: loss)
            sim.setHostLoss(host, fault)
            sim.schedule(at: end) { s in s.setHostLoss(host, .none) }
        case .flipflop:
            guard let host else { preconditionFailure("a one-host fault without its host") }
            let loss = hostOptions.loss ?? 1
            let period = hostOptions.period
            end = start + options.duration
            var t = start
            var on = true
            while t < end {
                let fault = on ? HostLoss(inbound: loss) : .none
                sim.schedule(at: t) { s in s.setHostLoss(host, fault) }
                t += period
                on.toggle()
            }
            sim.schedule(at: end) { s in s.setHostLoss(host, .none) }
        default:
            guard let host else { preconditionFailure("a one-host fault without its host") }
            let stall = hostOptions.stall
            var t = start
            for _ in 0..<hostOptions.stallCount {
                sim.schedule(at: t) { s in s.pause(host, for: stall) }
                t += stall + .seconds(2) + rng.duration(below: .seconds(2))
            }
            end = t
        }
        return end
    }

    /// kill -9 of one agent on a live host (its port refuses connections), the hive on: when
    /// the first survivor and when every survivor sees it dead (the harness's `kill`).
    mutating func kill(_ result: inout SimulationResult) {
        startConverged()
        sim.run(until: Instant.zero + warmup)
        let victim = rng.below(n)
        let victimID = sim.nodes[victim].id
        let killedAt = sim.now
        var deadAt = [Double?](repeating: nil, count: n)
        var seen = 0
        sim.onEvent = { s, i, event in
            guard case .memberChanged(let m, _) = event, m.id == victimID, m.status.isGone, deadAt[i] == nil else {
                return
            }
            deadAt[i] = (s.now - killedAt).inMilliseconds
            seen += 1
        }
        sim.crash(victim, kind: .process)
        let deadline = killedAt + maxSuspicion + .seconds(60)
        drive(until: deadline, from: killedAt) { seen >= n - 1 }
        let times = deadAt.compactMap { $0 }
        result.detectionFirstMs = times.min()
        result.detectionAll = Distribution(times)
        result.convergence = result.detectionAll
        result.timeline = timeline(times, of: n - 1)
        result.newsLabel = "survivors that see the killed agent dead"
        result.falsePositives = sim.falselyDeclaredDead.count
        result.hostFault.host = victim
        result.converged =
            seen >= n - 1 && waitConverged(until: sim.now + .seconds(60), expectedGone: [victim])
        if seen < n - 1 {
            let ms = maxSuspicion.wholeMilliseconds + 60_000
            result.failure = "\(n - 1 - seen) survivors never saw the killed agent dead within \(ms) ms"
        }
    }
}

/// What the host-fault scenarios count as the events arrive.
final class HostFaultCounts {
    var statusChanges = 0
    var deaths = 0
    var deathObservers: Set<Int> = []
    var healthySuspicions = 0
    var healthyDead: Set<Int> = []
    var deathsSeenByHost = 0
    /// Queen terms begun (elections won, cells founded) while the fault lasted, and why
    /// queens stepped down (the harness's "queen terms begun during the fault").
    var faultOn = false
    var queenTerms = 0
    var stepDowns: [String: Int] = [:]
}
