import ColonyCore
import Foundation

extension Simulation.Context {
    /// `evict` (issue #6): a formed, signed hive in which `--offenders` members (default
    /// max(2, N/50)) misbehave from 2 s after formation, flooders and forgers in turn, for
    /// `--duration` s (default 60); 5% of links are broken meanwhile. Their victims' scores fall below the eviction
    /// threshold, they accuse them to their queens, the queens pool accusations and one
    /// evicts. Honest members keep broadcasting. Measured:
    /// - evictMs: from the attack's start until every honest member refuses the offender;
    /// - honestEvicted: honest members evicted anywhere (must be 0);
    /// - evictedInRoster: an evicted offender still in a cell's roster 2 s after its
    ///   eviction reached everyone (must be 0);
    /// - liftMs: the first evicted offender is lifted from a random honest member (the
    ///   request goes to the issuing queen) once the attack is over; until every honest
    ///   member holds it alive;
    /// - readmitMs: the others, now honest, from the expiry of their eviction (`--evict-ttl`,
    ///   default 90 s) until every honest member holds them alive again.
    /// Every honest broadcast must reach every honest member.
    mutating func evict(_ result: inout SimulationResult) {
        sim.authenticate = true
        guard formHive(&result) else { return }
        let attackStart = sim.now + 2 * Simulation.second
        let attackEnd = attackStart + Int64((options.durationSeconds ?? 60) * 1e9)
        let ids = sim.nodes.map(\.id)
        var indexOf: [NodeID: Int] = [:]
        for (i, id) in ids.enumerated() { indexOf[id] = i }
        let count = options.offenders ?? max(2, n / 50)
        let offenders = rng.sample(count, from: Array(0..<n)).sorted()
        let isOffender = Set(offenders)
        let honest = (0..<n).filter { !isOffender.contains($0) }
        // Freeloaders are left out: one that ignores ping-reqs costs each asker a slip now
        // and then, and the abuse scenario shows them graylisted; their victims' scores
        // rarely add up to the eviction threshold within a minute.
        let kinds: [Behaviour] = [.flooder, .forger]
        var kindOf: [Int: Behaviour] = [:]
        for (k, o) in offenders.enumerated() { kindOf[o] = kinds[k % kinds.count] }

        // Who refuses whom, as the nodes report it.
        var refusedBy: [Int: Set<Int>] = [:] // offender → honest members that refuse it
        var everywhereAt: [Int: Int64] = [:]
        var honestEvicted: Set<Int> = []
        var expiresAt: [Int: Int64] = [:] // offender → expiry in virtual time (by the issuer's eviction)
        let tracker = BroadcastTracker(receivers: Set(honest))
        trackBroadcasts(tracker) { s, i, event in
            guard case .evicted(let e) = event, let o = indexOf[e.id] else { return }
            if !isOffender.contains(o) {
                honestEvicted.insert(o)
                return
            }
            guard !isOffender.contains(i) else { return }
            refusedBy[o, default: []].insert(i)
            if expiresAt[o] == nil {
                expiresAt[o] = s.now + Int64(e.expiresMs - min(e.expiresMs, s.wallMs(i))) * 1_000_000
            }
            if everywhereAt[o] == nil, refusedBy[o]!.count == honest.count { everywhereAt[o] = s.now }
        }
        sim.run(until: attackStart)

        // The attack: 5% of links break; flooders send 2,000 valid packets a second to two
        // honest members; freeloaders ignore ping-reqs and relay nothing.
        let broken = randomBrokenLinks()
        sim.brokenLinks = broken
        func reachable(_ a: Int, _ b: Int) -> Bool { !broken.contains(Self.link(a, b)) }
        for o in offenders {
            sim.setBehaviour(o, kindOf[o]!)
            switch kindOf[o]! {
            case .flooder:
                scheduleFlood(
                    from: o, at: rng.sample(2, from: honest.filter { reachable($0, o) }), start: attackStart,
                    end: attackEnd)
            case .forger:
                // Every 200 ms, to a random honest member: a record in another member's
                // name, signed with the forger's own key.
                scheduleForgeries(
                    from: o, honest: honest, reachable: reachable, start: attackStart, end: attackEnd,
                    period: 200_000_000
                ) { s, victim, k in
                    [.record(s.forgedRecord(by: o, victim: victim, serial: k))]
                }
            case .freeloader, .honest:
                break
            }
        }
        sim.schedule(at: attackEnd) { s in
            for o in offenders { s.setBehaviour(o, .honest) }
            s.brokenLinks = []
        }
        scheduleBroadcasts(
            options.broadcasts ?? 200, from: attackStart, over: attackEnd - attackStart, tracker: tracker,
            senders: honest)
        let sentBefore = sim.payloadsSent

        // Until every offender is refused everywhere (or the attack is long over).
        var inRoster = 0
        var rosterChecked: Set<Int> = []
        let evictDeadline = attackEnd + 20 * Simulation.second
        while sim.now < evictDeadline && everywhereAt.count < offenders.count {
            sim.run(until: sim.now + 100_000_000)
            for (o, at) in everywhereAt where !rosterChecked.contains(o) && sim.now >= at + 2 * Simulation.second {
                rosterChecked.insert(o)
                if evictedStill(o, honest: honest) {
                    inRoster +=
                        sim.upNodes.filter {
                            sim.nodes[$0].core?.hive.roster?.voter(for: ids[o]) != nil && !isOffender.contains($0)
                        }.count
                }
            }
        }
        result.hive.offenders = offenders.count
        result.hive.offendersEvicted = everywhereAt.count
        result.hive.evictTime = Distribution(everywhereAt.values.map { Double($0 - attackStart) / 1e6 })

        // Once the attack is over, lift the eviction that has longest to run, from a random
        // honest member (lifting it earlier would let the attack resume).
        var liftedAt: Int64?
        var lifted: Int?
        sim.run(until: max(sim.now, attackEnd))
        if let first = everywhereAt.keys.max(by: { (expiresAt[$0] ?? 0, $0) < (expiresAt[$1] ?? 0, $1) }),
            (expiresAt[first] ?? 0) > sim.now + Simulation.second
        {
            let h = honest[rng.below(honest.count)]
            var outcome: Result<[Eviction], LiftError>?
            sim.command(h) { core, now in
                let (r, effects) = core.lift(ids[first], now: now)
                outcome = r
                return effects
            }
            if case .success = outcome {
                lifted = first
                liftedAt = sim.now
            } else {
                result.failure =
                    "lifting the eviction of node \(first) from node \(h) failed: \(String(describing: outcome))"
            }
        }

        // Back: every honest member holds the offender alive (and refuses it no more).
        func back(_ o: Int) -> Bool {
            honest.allSatisfy { h in
                guard let core = sim.nodes[h].core else { return true }
                return !core.isExcluded(ids[o]) && core.member(ids[o])?.status == .alive
            }
        }
        var liftDone: [Double] = []
        var readmitted: [Double] = []
        var pending = Set(everywhereAt.keys)
        let lastExpiry = expiresAt.values.max() ?? sim.now
        let backDeadline = max(sim.now, lastExpiry) + 60 * Simulation.second
        while sim.now < backDeadline && !pending.isEmpty {
            sim.run(until: sim.now + 100_000_000)
            for o in pending.sorted() where back(o) {
                pending.remove(o)
                if o == lifted, let liftedAt {
                    liftDone.append(Double(sim.now - liftedAt) / 1e6)
                } else if let expiry = expiresAt[o] {
                    readmitted.append(Double(max(0, sim.now - expiry)) / 1e6)
                }
            }
        }
        // Broadcasts sent during the attack must all have arrived by now.
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        result.hive.liftTime = liftDone.isEmpty ? nil : Distribution(liftDone)
        result.hive.readmitTime = readmitted.isEmpty ? nil : Distribution(readmitted)
        result.hive.honestEvicted = honestEvicted.count
        result.hive.evictedInRoster = inRoster

        var problems: [String] = []
        if everywhereAt.count < offenders.count {
            let missing = offenders.filter { everywhereAt[$0] == nil }.map {
                "node \($0) (\(kindOf[$0]!.rawValue), refused by \(refusedBy[$0]?.count ?? 0) of \(honest.count))"
            }
            problems.append("offenders not evicted everywhere: " + missing.joined(separator: ", "))
        }
        if !honestEvicted.isEmpty { problems.append("honest members evicted: \(honestEvicted.sorted())") }
        if inRoster > 0 {
            problems.append("\(inRoster) rosters still held an evicted offender 2 s after its eviction spread")
        }
        if !pending.isEmpty {
            problems.append("offenders not back 60 s after their eviction ended: \(pending.sorted())")
        }
        if lifted != nil && liftDone.isEmpty { problems.append("the lifted offender never came back") }
        if tracker.delivered != tracker.expected {
            problems.append(
                String(format: "honest broadcasts not delivered everywhere: %.5f", result.hive.deliveryRatio ?? 0))
        }
        result.converged = problems.isEmpty
        if !problems.isEmpty { result.failure = problems.joined(separator: "; ") }
    }

    /// Every honest member still refuses `o`.
    func evictedStill(_ o: Int, honest: [Int]) -> Bool {
        let id = sim.nodes[o].id
        return honest.allSatisfy { sim.nodes[$0].core?.isExcluded(id) ?? true }
    }
}
