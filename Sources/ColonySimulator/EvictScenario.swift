import ColonyCore
import Foundation

/// Who refuses whom in the evict scenario, as the nodes report it.
final class EvictionLedger {
    /// Offender → honest members that refuse it.
    var refusedBy: [Int: Set<Int>] = [:]
    /// Offender → when the last honest member came to refuse it.
    var everywhereAt: [Int: Instant] = [:]
    var honestEvicted: Set<Int> = []
    /// Offender → expiry in virtual time (by the issuer's eviction).
    var expiresAt: [Int: Instant] = [:]
    /// Flooder → the members it floods.
    var floodTargets: [Int: [Int]] = [:]
    /// Offender → the honest members that graylisted it at some point of the attack.
    var graylistedBy: [Int: Set<Int>] = [:]
}

extension Simulation.Context {
    /// `evict` (issue #6): a formed, signed hive in which `--offenders` members (default
    /// max(2, N/50)) misbehave from 2 s after formation, flooders and forgers in turn, for
    /// `--duration` s (default 60); 5% of links are broken meanwhile. Their victims' scores
    /// fall below the eviction threshold, they accuse them to their queens, the queens pool
    /// accusations and one evicts. Honest members keep broadcasting. Forgers reach members
    /// all over the swarm, a majority of their cell among them, and must be evicted
    /// everywhere; a flooder floods two members, whose word alone evicts nobody (issue 18:
    /// a quorum of the accused's cell, or as many accusers as it counts), so it must be
    /// graylisted by both. Measured:
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
        guard let attack = startAttack(&result, offenders: options.evict.offenderCount(nodes: n)) else { return }
        let (cast, ledger, tracker) = (attack.cast, attack.ledger, attack.tracker)
        let (attackStart, attackEnd, sentBefore) = (attack.start, attack.end, attack.sentBefore)
        let forgers = cast.offenders.filter { cast.kindOf[$0] == .forger }
        let inRoster = waitEvictedEverywhere(ledger, cast: cast, until: attackEnd + .seconds(20), expecting: forgers)
        result.evict.offenders = cast.offenders.count
        result.evict.offendersEvicted = ledger.everywhereAt.count
        let keptOut = cast.offenders.filter { o in
            ledger.everywhereAt[o] != nil
                || (ledger.floodTargets[o].map { !$0.isEmpty && Set($0).isSubset(of: ledger.graylistedBy[o] ?? []) }
                    ?? false)
        }
        result.evict.offendersGraylisted = keptOut.count
        result.evict.evictTime = Distribution(ledger.everywhereAt.values.map { ($0 - attackStart).inMilliseconds })
        sim.run(until: max(sim.now, attackEnd))
        let lifted = liftOneEviction(&result, ledger: ledger, honest: cast.honest)
        let back = waitReadmitted(ledger, honest: cast.honest, lifted: lifted)
        // Broadcasts sent during the attack must all have arrived by now.
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)
        result.evict.liftTime = back.lift.isEmpty ? nil : Distribution(back.lift)
        result.evict.readmitTime = back.readmit.isEmpty ? nil : Distribution(back.readmit)
        result.hive.honestEvicted = ledger.honestEvicted.count
        result.evict.evictedInRoster = inRoster

        var problems: [String] = []
        if forgers.contains(where: { ledger.everywhereAt[$0] == nil }) {
            let missing = forgers.filter { ledger.everywhereAt[$0] == nil }.map {
                "node \($0) (\(cast.kindOf[$0]!.rawValue), refused by \(ledger.refusedBy[$0]?.count ?? 0) of "
                    + "\(cast.honest.count))"
            }
            problems.append("forgers not evicted everywhere: " + missing.joined(separator: ", "))
        }
        let loose = cast.offenders.filter { !keptOut.contains($0) && cast.kindOf[$0] == .flooder }
        if !loose.isEmpty {
            problems.append("flooders neither evicted nor graylisted by every member they flood: \(loose)")
        }
        if !ledger.honestEvicted.isEmpty { problems.append("honest members evicted: \(ledger.honestEvicted.sorted())") }
        if inRoster > 0 {
            problems.append("\(inRoster) rosters still held an evicted offender 2 s after its eviction spread")
        }
        if !back.pending.isEmpty {
            problems.append("offenders not back 60 s after their eviction ended: \(back.pending.sorted())")
        }
        if lifted != nil && back.lift.isEmpty { problems.append("the lifted offender never came back") }
        if tracker.delivered != tracker.expected {
            problems.append(
                String(format: "honest broadcasts not delivered everywhere: %.5f", result.hive.deliveryRatio ?? 0))
        }
        result.converged = problems.isEmpty
        if !problems.isEmpty { result.failure = problems.joined(separator: "; ") }
    }

    /// Count broadcasts into `tracker`, and evictions into `ledger`: of honest members, and
    /// of offenders by honest members, with when each eviction expires.
    func watchEvictions(_ ledger: EvictionLedger, tracker: BroadcastTracker, cast: Cast) {
        var indexOf: [NodeID: Int] = [:]
        for (i, node) in sim.nodes.enumerated() { indexOf[node.id] = i }
        let isOffender = cast.isOffender
        let honestCount = cast.honest.count
        trackBroadcasts(tracker) { s, i, event in
            guard case .evicted(let e) = event, let o = indexOf[e.id] else { return }
            if !isOffender.contains(o) {
                ledger.honestEvicted.insert(o)
                return
            }
            guard !isOffender.contains(i) else { return }
            ledger.refusedBy[o, default: []].insert(i)
            if ledger.expiresAt[o] == nil {
                ledger.expiresAt[o] = s.now + .milliseconds(Int64(e.expiresMs - min(e.expiresMs, s.wallMs(i))))
            }
            if ledger.everywhereAt[o] == nil, ledger.refusedBy[o]!.count == honestCount {
                ledger.everywhereAt[o] = s.now
            }
        }
    }

    /// The attack: 5% of links break; flooders send 2,000 valid packets a second to two
    /// honest members; every 200 ms, to a random honest member, forgers send a record in
    /// another member's name, signed with the forger's own key. At `end` the offenders turn
    /// honest and the links mend.
    /// A formed, signed hive attacked from 2 s on for `--duration` s by `offenders` members,
    /// flooders and forgers in turn, while honest members broadcast (evict, byzantine).
    /// `more` schedules the scenario's own attacks, between the floods and the broadcasts.
    struct Attack {
        let cast: Cast
        let ledger: EvictionLedger
        let tracker: BroadcastTracker
        let start: Instant
        let end: Instant
        let sentBefore: Int
    }

    mutating func startAttack(
        _ result: inout SimulationResult, offenders count: Int,
        more: (inout Self, Cast, Instant, Instant) -> Void = { _, _, _, _ in }
    ) -> Attack? {
        sim.authenticate = true
        guard formHive(&result) else { return nil }
        let attackStart = sim.now + .seconds(2)
        let attackEnd = attackStart + options.duration
        // Freeloaders are left out: one that ignores ping-reqs costs each asker a slip now
        // and then, and the abuse scenario shows them graylisted; their victims' scores
        // rarely add up to the eviction threshold within a minute.
        let cast = Cast(
            offenders: rng.sample(count, from: Array(0..<n)).sorted(), kinds: [.flooder, .forger], nodes: n)
        let ledger = EvictionLedger()
        let tracker = BroadcastTracker(receivers: Set(cast.honest))
        watchEvictions(ledger, tracker: tracker, cast: cast)
        sim.run(until: attackStart)
        scheduleEvictionAttack(cast, ledger: ledger, start: attackStart, end: attackEnd)
        more(&self, cast, attackStart, attackEnd)
        scheduleBroadcasts(
            options.hive.broadcastCount, from: attackStart, over: attackEnd - attackStart, tracker: tracker,
            senders: cast.honest)
        return Attack(
            cast: cast, ledger: ledger, tracker: tracker, start: attackStart, end: attackEnd,
            sentBefore: sim.payloadsSent)
    }

    mutating func scheduleEvictionAttack(_ cast: Cast, ledger: EvictionLedger, start: Instant, end: Instant) {
        let broken = randomBrokenLinks()
        sim.brokenLinks = broken
        func reachable(_ a: Int, _ b: Int) -> Bool { !broken.contains(Simulator.linkKey(a, b)) }
        // Who graylists each offender, looked at every half second: a graylisted offender's
        // packets go unread, its score recovers and it is graylisted again.
        let ids = cast.offenders.map { sim.nodes[$0].id }
        var t = start
        while t < end {
            sim.schedule(at: t) { s in
                for (o, id) in zip(cast.offenders, ids) {
                    ledger.graylistedBy[o, default: []].formUnion(
                        cast.honest.filter { s.nodes[$0].core?.isGraylisted(id) == true })
                }
            }
            t += .milliseconds(500)
        }
        for o in cast.offenders {
            sim.setBehaviour(o, cast.kindOf[o]!)
            switch cast.kindOf[o]! {
            case .flooder:
                let targets = rng.sample(2, from: cast.honest.filter { reachable($0, o) })
                ledger.floodTargets[o] = targets
                scheduleFlood(from: o, at: targets, start: start, end: end)
            case .forger:
                scheduleForgeries(
                    from: o, honest: cast.honest, reachable: reachable, start: start, end: end,
                    period: .milliseconds(200)
                ) { s, victim, k in
                    [.record(s.forgedRecord(by: o, victim: victim, serial: k))]
                }
            case .freeloader, .honest:
                break
            }
        }
        let offenders = cast.offenders
        sim.schedule(at: end) { s in
            for o in offenders { s.setBehaviour(o, .honest) }
            s.brokenLinks = []
        }
    }

    /// Run until every offender is refused everywhere (or `deadline`); 2 s after each one
    /// is, count the honest members whose cell's roster still holds it.
    func waitEvictedEverywhere(
        _ ledger: EvictionLedger, cast: Cast, until deadline: Instant, expecting: [Int]? = nil
    ) -> Int {
        var inRoster = 0
        var rosterChecked: Set<Int> = []
        let expected = expecting ?? cast.offenders
        while sim.now < deadline && expected.contains(where: { ledger.everywhereAt[$0] == nil }) {
            sim.run(until: sim.now + .milliseconds(100))
            for (o, at) in ledger.everywhereAt where !rosterChecked.contains(o) && sim.now >= at + .seconds(2) {
                rosterChecked.insert(o)
                if evictedStill(o, honest: cast.honest) {
                    let id = sim.nodes[o].id
                    inRoster +=
                        sim.upNodes.filter {
                            sim.nodes[$0].core?.hive.roster?.voter(for: id) != nil && !cast.isOffender.contains($0)
                        }.count
                }
            }
        }
        return inRoster
    }

    /// Once the attack is over, lift the eviction that has longest to run, from a random
    /// honest member (lifting it earlier would let the attack resume): who, and when.
    mutating func liftOneEviction(_ result: inout SimulationResult, ledger: EvictionLedger, honest: [Int])
        -> (node: Int, at: Instant)?
    {
        let expiresAt = ledger.expiresAt
        // Latest expiry first, ties to the higher index.
        let order = { (o: Int) in (expiresAt[o] ?? .zero, o) }
        guard let first = ledger.everywhereAt.keys.max(by: { order($0) < order($1) }),
            (expiresAt[first] ?? .zero) > sim.now + .seconds(1)
        else { return nil }
        let h = honest[rng.below(honest.count)]
        let id = sim.nodes[first].id
        var outcome: Result<[Eviction], LiftError>?
        sim.command(h) { core, now in
            let (r, effects) = core.lift(id, now: now)
            outcome = r
            return effects
        }
        guard case .success = outcome else {
            result.failure =
                "lifting the eviction of node \(first) from node \(h) failed: \(String(describing: outcome))"
            return nil
        }
        return (first, sim.now)
    }

    /// Run until every evicted offender is back — every honest member holds it alive and
    /// refuses it no more — or 60 s after the last eviction expires: the times from the lift
    /// and from each expiry, and who never came back.
    func waitReadmitted(_ ledger: EvictionLedger, honest: [Int], lifted: (node: Int, at: Instant)?)
        -> (lift: [Double], readmit: [Double], pending: Set<Int>)
    {
        func back(_ o: Int) -> Bool {
            let id = sim.nodes[o].id
            return honest.allSatisfy { h in
                guard let core = sim.nodes[h].core else { return true }
                return !core.isExcluded(id) && core.member(id)?.status == .alive
            }
        }
        var lift: [Double] = []
        var readmit: [Double] = []
        var pending = Set(ledger.everywhereAt.keys)
        let lastExpiry = ledger.expiresAt.values.max() ?? sim.now
        let deadline = max(sim.now, lastExpiry) + .seconds(60)
        while sim.now < deadline && !pending.isEmpty {
            sim.run(until: sim.now + .milliseconds(100))
            for o in pending.sorted() where back(o) {
                pending.remove(o)
                if let lifted, o == lifted.node {
                    lift.append((sim.now - lifted.at).inMilliseconds)
                } else if let expiry = ledger.expiresAt[o] {
                    readmit.append(max(.zero, sim.now - expiry).inMilliseconds)
                }
            }
        }
        return (lift, readmit, pending)
    }

    /// Every honest member still refuses `o`.
    func evictedStill(_ o: Int, honest: [Int]) -> Bool {
        let id = sim.nodes[o].id
        return honest.allSatisfy { sim.nodes[$0].core?.isExcluded(id) ?? true }
    }
}
