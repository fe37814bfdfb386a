import ColonyCore

/// What the abuse scenario learns as it runs: per (honest node, offender) pair, the first
/// offence that node met and its first graylisting of the offender; the honest writes and
/// events, and who saw which events.
final class AbuseLedger {
    var firstOffence: [UInt64: Instant] = [:]
    var graylistedAt: [UInt64: Instant] = [:]
    var graylistedBy: [Int: Set<Int>] = [:]
    var honestWrites: [Dot] = []
    var honestEvents: Set<Dot> = []
    var eventsSeenBy: [Int: Set<Dot>] = [:]
    /// Offences met after this time are not judged (nil: every offence is).
    var offencesUntil: Instant?

    static func pair(_ honest: Int, _ offender: Int) -> UInt64 { UInt64(honest) << 32 | UInt64(offender) }

    /// An honest node met an offence: the first one per pair starts its clock.
    func offence(against h: Int, by o: Int, at t: Instant) {
        let k = Self.pair(h, o)
        if firstOffence[k] == nil { firstOffence[k] = t }
    }
}

/// Who is who in an attack: the offenders, their kinds, the honest nodes.
struct Cast {
    var offenders: [Int]
    var kindOf: [Int: Behaviour]
    var honest: [Int]
    var isOffender: Set<Int>

    init(offenders: [Int], kinds: [Behaviour], nodes n: Int) {
        var kindOf: [Int: Behaviour] = [:]
        for (k, o) in offenders.enumerated() { kindOf[o] = kinds[k % kinds.count] }
        self.offenders = offenders
        self.kindOf = kindOf
        self.isOffender = Set(offenders)
        self.honest = (0..<n).filter { kindOf[$0] == nil }
    }
}

extension Simulation.Context {
    /// `abuse` (docs/design.md §6): a signed swarm in which 20% of the nodes misbehave — a third
    /// flood, a third forge other members' claims, records and events, a third freeload
    /// (ignore ping-reqs, relay nothing). 5% of links (more in small swarms) are broken both
    /// ways, so probes go indirect all the time (that is what exposes freeloaders). Honest
    /// nodes keep writing and sending events. Every honest write and event must reach every
    /// honest node, and each offender must be graylisted by the honest nodes it offends —
    /// quickly.
    ///
    /// Graylist timing is per (honest node, offender) pair: from the first offence that
    /// node met (the first flood packet, forged packet, or ping-req the freeloader left
    /// unanswered) to the moment that node graylisted the offender, in gossip rounds.
    mutating func abuse(_ result: inout SimulationResult) {
        sim.authenticate = true
        startConverged()
        let attackStart = Instant.zero + .seconds(5)
        let duration = options.duration
        let end = attackStart + duration
        // Offenders: 20%, kinds in turn.
        let offenderCount = max(3, n / 5)
        let cast = Cast(
            offenders: rng.sample(offenderCount, from: Array(0..<n)).sorted(), kinds: [.flooder, .forger, .freeloader],
            nodes: n)
        // Flaky links, broken from the start: 5% of pairs, and at least about three per node
        // in small swarms, so probes go indirect often enough to meet every freeloader.
        let broken = randomBrokenLinks()
        sim.brokenLinks = broken
        sim.run(until: attackStart)

        let ledger = AbuseLedger()
        watchAbuse(ledger, cast: cast, from: attackStart)
        for o in cast.offenders {
            sim.setBehaviour(o, cast.kindOf[o]!)
        }
        scheduleAttack(cast, broken: broken, start: attackStart, end: end)
        scheduleHonestWork(ledger, honest: cast.honest, from: attackStart, over: duration / 2)
        drive(until: end, from: attackStart) { false }
        // Liveness: honest news must reach every honest node (the attack goes on).
        let calm = sim.now
        // Checked at most every 100 ms of virtual time (the check is O(nodes × items)).
        var checkedAt: Instant?
        // Long enough for anti-entropy's tail: push-pull slows down as swarms grow.
        let window = max(.seconds(60), settings.pushPullPeriod(members: n) * 2)
        drive(until: calm + window, from: calm) {
            if let checkedAt, sim.now < checkedAt + .milliseconds(100) { return false }
            checkedAt = sim.now
            let d = honestDelivered(ledger, honest: cast.honest)
            return d.got == d.want && honestConverged(cast.honest)
        }
        // Liveness is judged now; offences met in the last moments are judged too, after
        // running past every audit deadline.
        let d = honestDelivered(ledger, honest: cast.honest)
        result.converged = honestConverged(cast.honest)
        let judged = sim.now
        ledger.offencesUntil = judged
        // A freeloader met late is re-asked until its run is judged (Trust+Helpers.swift).
        drive(until: judged + .seconds(20), from: judged) { false }
        result.abuse.honestDeliveryRatio = d.want == 0 ? 1 : Double(d.got) / Double(d.want)
        judgeGraylisting(&result, ledger: ledger, cast: cast)
        result.falsePositives = sim.falselyDeclaredDead.filter { !cast.isOffender.contains($0) }.count
        var problems: [String] = []
        if d.got != d.want { problems.append("honest news reached \(d.got) of \(d.want) (node, item) pairs") }
        if !result.converged { problems.append(honestViews(cast.honest)) }
        problems += graylistProblems(result.abuse)
        if !problems.isEmpty { result.failure = problems.joined(separator: "; ") }
    }

    /// The checkers of the abuse scenario: offences met (from `start` until the ledger's
    /// end), graylistings by honest nodes, and honest events seen.
    func watchAbuse(_ ledger: AbuseLedger, cast: Cast, from start: Instant) {
        let isOffender = cast.isOffender
        sim.onDeliver = { s, to, from, packet, injected in
            guard s.now >= start, ledger.offencesUntil.map({ s.now <= $0 }) ?? true else { return }
            // A freeloader met a request it will ignore: the offence against the asker.
            if s.nodes[to].behaviour == .freeloader, case .pingReq = packet.message, !isOffender.contains(from) {
                ledger.offence(against: from, by: to, at: s.now)
            }
            // The first flood or forged packet that reached an honest node.
            if injected, !isOffender.contains(to) { ledger.offence(against: to, by: from, at: s.now) }
        }
        var indexOf: [NodeID: Int] = [:]
        for (i, node) in sim.nodes.enumerated() { indexOf[node.id] = i }
        sim.onEvent = { s, i, event in
            switch event {
            case .peerGraylisted(let peer, _):
                guard let o = indexOf[peer], !isOffender.contains(i) else { return }
                ledger.graylistedBy[o, default: []].insert(i)
                let k = AbuseLedger.pair(i, o)
                if ledger.graylistedAt[k] == nil { ledger.graylistedAt[k] = s.now }
            case .userEvent(let e, _):
                ledger.eventsSeenBy[i, default: []].insert(e.id)
            default:
                break
            }
        }
    }

    /// The offenders' traffic: flooders send 2,000 packets a second at two honest targets,
    /// in 10 ms bursts; every gossip round, to a random honest node, forgers send a victim's
    /// alive claim with a new address, a record and an event in the victim's name — signed
    /// by the forger. Freeloaders send nothing of their own.
    mutating func scheduleAttack(_ cast: Cast, broken: Set<UInt64>, start: Instant, end: Instant) {
        let gossipRound = settings.gossipInterval
        func reachable(_ a: Int, _ b: Int) -> Bool { !broken.contains(Simulator.linkKey(a, b)) }
        for o in cast.offenders {
            switch cast.kindOf[o]! {
            case .flooder:
                let targets = rng.sample(2, from: cast.honest.filter { reachable($0, o) })
                scheduleFlood(from: o, at: targets, start: start, end: end)
            case .forger:
                scheduleForgeries(
                    from: o, honest: cast.honest, reachable: reachable, start: start, end: end, period: gossipRound
                ) { s, victim, serial in
                    s.forgedClaims(by: o, victim: victim, serial: serial)
                }
            case .freeloader, .honest:
                break
            }
        }
    }

    /// Honest work: each honest node writes a key at a random time in `window`, a quarter
    /// also send an event.
    mutating func scheduleHonestWork(_ ledger: AbuseLedger, honest: [Int], from start: Instant, over window: Duration) {
        for h in honest {
            let at = start + rng.duration(below: window)
            let sendsEvent = rng.below(4) == 0
            sim.schedule(at: at) { s in
                if let r = s.put(h, key: "honest/\(h)", value: Array("v\(h)".utf8)) {
                    ledger.honestWrites.append(r.dot)
                }
                if sendsEvent, let e = s.event(h, name: "honest", payload: Array("\(h)".utf8)) {
                    ledger.honestEvents.insert(e.id)
                }
            }
        }
    }

    /// Honest (node, write or event) pairs delivered, of all such pairs.
    func honestDelivered(_ ledger: AbuseLedger, honest: [Int]) -> (got: Int, want: Int) {
        var got = 0
        for h in honest {
            guard let core = sim.nodes[h].core else { continue }
            for d in ledger.honestWrites where core.state.seen.contains(d) { got += 1 }
            got += ledger.eventsSeenBy[h, default: []].intersection(ledger.honestEvents).count
        }
        return (got, honest.count * (ledger.honestWrites.count + ledger.honestEvents.count))
    }

    /// Every honest node sees every honest node alive.
    func honestConverged(_ honest: [Int]) -> Bool {
        for h in honest {
            guard let core = sim.nodes[h].core else { return false }
            for k in honest where core.member(sim.nodes[k].id)?.status != .alive { return false }
        }
        return true
    }

    /// What honest nodes see of each other where it is not "alive", counted by status.
    func honestViews(_ honest: [Int]) -> String {
        var views: [String: Int] = [:]
        var subjects: Set<Int> = []
        for h in honest {
            guard let core = sim.nodes[h].core else { continue }
            for k in honest {
                let st = core.member(sim.nodes[k].id)?.status
                if st != .alive {
                    views[st.map { "\($0)" } ?? "unknown", default: 0] += 1
                    subjects.insert(k)
                }
            }
        }
        let counts = views.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        return "honest nodes do not all see each other alive (\(counts) views of \(subjects.count) nodes)"
    }

    /// Graylisting: offenders and honest nodes graylisted, and per pair that met an offence,
    /// the gossip rounds from the first offence to the graylisting (worst, and worst per
    /// kind), or that it never came.
    func judgeGraylisting(_ result: inout SimulationResult, ledger: AbuseLedger, cast: Cast) {
        let gossipRound = settings.gossipInterval
        result.abuse.offenders = cast.offenders.count
        result.abuse.offendersGraylisted = cast.offenders.filter { !(ledger.graylistedBy[$0] ?? []).isEmpty }.count
        result.abuse.honestGraylisted = cast.honest.filter { !(ledger.graylistedBy[$0] ?? []).isEmpty }.count
        var worst = 0
        var pending = 0
        var perKind: [String: Int] = [:]
        for (k, first) in ledger.firstOffence {
            let o = Int(k & 0xFFFF_FFFF)
            guard let at = ledger.graylistedAt[k] else {
                pending += 1
                continue
            }
            let rounds = Self.rounds(from: first, to: at, of: gossipRound)
            worst = max(worst, rounds)
            let kind = cast.kindOf[o]!.rawValue
            perKind[kind] = max(perKind[kind] ?? 0, rounds)
        }
        result.abuse.graylistRoundsMax = worst
        result.abuse.graylistRoundsByKind = perKind
        result.abuse.offencePairsNotGraylisted = pending
    }

    /// Rounds of `round` from `first` to `last`, a started round counted whole (0 if `last`
    /// is not later): the integer ceiling of whole nanoseconds.
    static func rounds(from first: Instant, to last: Instant, of round: Duration) -> Int {
        let elapsed = max(.zero, last - first).nanosecondsInt64
        let length = round.nanosecondsInt64
        return Int(elapsed / length + (elapsed % length > 0 ? 1 : 0))
    }

    /// How many gossip rounds an offender of `kind` may take to be graylisted. Floods and
    /// forgeries prove themselves in one packet. Ignoring a ping-req is what loss does to an
    /// honest helper too: a freeloader is judged by a run of ignored requests longer than the
    /// measured loss explains (issue 17), re-asked once every two probe timeouts — about ten
    /// seconds where links are broken, as here.
    static func graylistRoundsLimit(_ kind: String) -> Int { kind == "freeloader" ? 100 : 10 }

    /// What the graylisting measures show wrong.
    func graylistProblems(_ a: AbuseReport) -> [String] {
        var problems: [String] = []
        let offenders = a.offenders ?? 0
        if a.offendersGraylisted != offenders {
            problems.append("\(offenders - a.offendersGraylisted!) offenders never graylisted")
        }
        if a.honestGraylisted != 0 { problems.append("\(a.honestGraylisted!) honest nodes graylisted") }
        for (kind, rounds) in a.graylistRoundsByKind.sorted(by: { $0.key < $1.key }) {
            let limit = Self.graylistRoundsLimit(kind)
            if rounds > limit {
                problems.append("a \(kind) took \(rounds) gossip rounds to be graylisted (limit \(limit))")
            }
        }
        let pending = a.offencePairsNotGraylisted ?? 0
        if pending > 0 { problems.append("\(pending) honest nodes met an offence but never graylisted its author") }
        return problems
    }
}
