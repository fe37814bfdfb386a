import ColonyCore

extension Simulation.Context {
    /// `abuse` (DESIGN.md §6): a signed swarm in which 20% of the nodes misbehave — a third
    /// flood, a third forge other members' claims, records and events, a third freeload
    /// (ignore ping-reqs, relay nothing). 5% of links (more in small swarms) are broken both ways, so probes go
    /// indirect all the time (that is what exposes freeloaders). Honest nodes keep writing
    /// and sending events. Every honest write and event must reach every honest node, and
    /// each offender must be graylisted by the honest nodes it offends — quickly.
    ///
    /// Graylist timing is per (honest node, offender) pair: from the first offence that
    /// node met (the first flood packet, forged packet, or ping-req the freeloader left
    /// unanswered) to the moment that node graylisted the offender, in gossip rounds.
    mutating func abuse(_ result: inout SimulationResult) {
        sim.authenticate = true
        startConverged()
        let gossipRound = settings.gossipInterval.nanosecondsInt64
        let attackStart = 5 * Simulation.second
        let duration = Int64((options.durationSeconds ?? 60) * 1e9)
        let end = attackStart + duration
        // Offenders: 20%, kinds in turn.
        let offenderCount = max(3, n / 5)
        let offenders = rng.sample(offenderCount, from: Array(0..<n)).sorted()
        let kinds: [Behaviour] = [.flooder, .forger, .freeloader]
        var kindOf: [Int: Behaviour] = [:]
        for (k, o) in offenders.enumerated() { kindOf[o] = kinds[k % 3] }
        let honest = (0..<n).filter { kindOf[$0] == nil }
        // Flaky links, broken from the start: 5% of pairs, and at least about three per node
        // in small swarms, so probes go indirect often enough to meet every freeloader.
        let broken = randomBrokenLinks()
        func reachable(_ a: Int, _ b: Int) -> Bool { !broken.contains(Self.link(a, b)) }
        sim.brokenLinks = broken
        sim.run(until: attackStart)

        // Per pair: first offence met, first graylisting.
        var firstOffence: [UInt64: Int64] = [:]
        var graylistedAt: [UInt64: Int64] = [:]
        var graylistedBy: [Int: Set<Int>] = [:]
        func pairKey(_ h: Int, _ o: Int) -> UInt64 { UInt64(h) << 32 | UInt64(o) }
        let isOffender = Set(offenders)
        let attackBegins = attackStart
        var offencesUntil = Int64.max
        sim.onDeliver = { s, to, from, packet, injected in
            guard s.now >= attackBegins, s.now <= offencesUntil else { return }
            // A freeloader met a request it will ignore: the offence against the asker.
            if s.nodes[to].behaviour == .freeloader, case .pingReq = packet.message, !isOffender.contains(from) {
                let k = pairKey(from, to)
                if firstOffence[k] == nil { firstOffence[k] = s.now }
            }
            // The first flood or forged packet that reached an honest node.
            if injected, !isOffender.contains(to) {
                let k = pairKey(to, from)
                if firstOffence[k] == nil { firstOffence[k] = s.now }
            }
        }
        let ids = sim.nodes.map(\.id)
        var indexOf: [NodeID: Int] = [:]
        for (i, id) in ids.enumerated() { indexOf[id] = i }
        // Honest deliveries: writes and events by honest nodes, seen by honest nodes.
        var honestWrites: [Dot] = []
        var honestEvents: Set<Dot> = []
        var eventsSeenBy: [Int: Set<Dot>] = [:]
        sim.onEvent = { s, i, event in
            switch event {
            case .peerGraylisted(let peer, _):
                guard let o = indexOf[peer], !isOffender.contains(i) else { return }
                graylistedBy[o, default: []].insert(i)
                let k = pairKey(i, o)
                if graylistedAt[k] == nil { graylistedAt[k] = s.now }
            case .userEvent(let e, _):
                eventsSeenBy[i, default: []].insert(e.id)
            default:
                break
            }
        }
        for o in offenders {
            sim.setBehaviour(o, kindOf[o]!)
        }
        // Offenders' traffic.
        for o in offenders {
            switch kindOf[o]! {
            case .flooder:
                // 2,000 packets a second at two honest targets, in 10 ms bursts.
                scheduleFlood(
                    from: o, at: rng.sample(2, from: honest.filter { reachable($0, o) }), start: attackStart, end: end)
            case .forger:
                // Every 200 ms, to a random honest node: a victim's alive claim with a new
                // address, a record and an event in the victim's name — signed by the forger.
                scheduleForgeries(
                    from: o, honest: honest, reachable: reachable, start: attackStart, end: end, period: gossipRound
                ) { s, victim, serial in
                    guard let core = s.nodes[o].core, let known = core.member(ids[victim]) else { return nil }
                    let signer = SimAuthenticator(id: ids[o], swarmSecret: s.seed)
                    var claim = known
                    claim.incarnation += 1_000 + serial
                    claim.address = Address(host: "10.66.6.6", port: 7946)
                    claim.status = .alive
                    claim.signature = Signature(
                        publicKey: SimAuthenticator.publicKey(for: ids[victim]),
                        bytes: signer.sign(SignedClaim.alive(claim)))
                    let record = s.forgedRecord(by: o, victim: victim, serial: serial)
                    var event = UserEvent(
                        id: Dot(origin: ids[victim], counter: 1 << 40 + serial), lamport: 1, name: "forged",
                        payload: [], coalesce: false)
                    event.signature = Signature(
                        publicKey: SimAuthenticator.publicKey(for: ids[victim]),
                        bytes: signer.sign(SignedClaim.event(event)))
                    return [.alive(claim), .record(record), .event(event)]
                }
            case .freeloader, .honest:
                break
            }
        }
        // Honest work: each honest node writes a key, a quarter also send an event.
        for h in honest {
            let at = attackStart + Int64(rng.below(Int(duration / 2)))
            let sendsEvent = rng.below(4) == 0
            sim.schedule(at: at) { s in
                if let r = s.put(h, key: "honest/\(h)", value: Array("v\(h)".utf8)) { honestWrites.append(r.dot) }
                if sendsEvent, let e = s.event(h, name: "honest", payload: Array("\(h)".utf8)) {
                    honestEvents.insert(e.id)
                }
            }
        }
        drive(until: end, from: attackStart) { false }
        // Liveness: honest news must reach every honest node (the attack goes on).
        func delivered() -> (got: Int, want: Int) {
            var got = 0
            for h in honest {
                guard let core = sim.nodes[h].core else { continue }
                for d in honestWrites where core.state.seen.contains(d) { got += 1 }
                got += eventsSeenBy[h, default: []].intersection(honestEvents).count
            }
            return (got, honest.count * (honestWrites.count + honestEvents.count))
        }
        func honestConverged() -> Bool {
            for h in honest {
                guard let core = sim.nodes[h].core else { return false }
                for k in honest where core.member(ids[k])?.status != .alive { return false }
            }
            return true
        }
        let calm = sim.now
        // Checked at most every 100 ms of virtual time (the check is O(nodes × items)).
        var checkedAt: Int64 = -1
        // Long enough for anti-entropy's tail: push-pull slows down as swarms grow.
        let window = max(60 * Simulation.second, 2 * settings.pushPullNanoseconds(members: n))
        drive(until: calm + window, from: calm) {
            guard sim.now >= checkedAt + 100_000_000 else { return false }
            checkedAt = sim.now
            let d = delivered()
            return d.got == d.want && honestConverged()
        }
        // Liveness is judged now; offences met in the last moments are judged too, after
        // running past every audit deadline.
        let d = delivered()
        result.converged = honestConverged()
        let judged = sim.now
        offencesUntil = judged
        drive(
            until: judged + 4 * settings.probeTimeout.nanosecondsInt64 + settings.probeInterval.nanosecondsInt64,
            from: judged
        ) { false }
        result.abuse.honestDeliveryRatio = d.want == 0 ? 1 : Double(d.got) / Double(d.want)
        result.abuse.offenders = offenderCount
        result.abuse.offendersGraylisted = offenders.filter { !(graylistedBy[$0] ?? []).isEmpty }.count
        result.abuse.honestGraylisted = honest.filter { !(graylistedBy[$0] ?? []).isEmpty }.count
        // Rounds from first offence to graylisting, per pair that met an offence.
        var worst: Int64 = 0
        var pending = 0
        var perKind: [String: Int64] = [:]
        for (k, first) in firstOffence {
            let o = Int(k & 0xFFFF_FFFF)
            guard let at = graylistedAt[k] else {
                pending += 1
                continue
            }
            let rounds = max(0, at - first) / gossipRound + ((at - first) % gossipRound > 0 ? 1 : 0)
            worst = max(worst, rounds)
            let kind = kindOf[o]!.rawValue
            perKind[kind] = max(perKind[kind] ?? 0, rounds)
        }
        result.abuse.graylistRoundsMax = Int(worst)
        result.abuse.graylistRoundsByKind = perKind.mapValues(Int.init)
        result.abuse.offencePairsNotGraylisted = pending
        result.falsePositives = sim.falselyDeclaredDead.filter { !isOffender.contains($0) }.count
        var problems: [String] = []
        if d.got != d.want { problems.append("honest news reached \(d.got) of \(d.want) (node, item) pairs") }
        if !result.converged {
            var views: [String: Int] = [:]
            var subjects: Set<Int> = []
            for h in honest {
                guard let core = sim.nodes[h].core else { continue }
                for k in honest {
                    let st = core.member(ids[k])?.status
                    if st != .alive {
                        views[st.map { "\($0)" } ?? "unknown", default: 0] += 1
                        subjects.insert(k)
                    }
                }
            }
            problems.append(
                "honest nodes do not all see each other alive (\(views.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")) views of \(subjects.count) nodes)"
            )
        }
        if result.abuse.offendersGraylisted != offenderCount {
            problems.append("\(offenderCount - result.abuse.offendersGraylisted!) offenders never graylisted")
        }
        if result.abuse.honestGraylisted != 0 {
            problems.append("\(result.abuse.honestGraylisted!) honest nodes graylisted")
        }
        if worst > 10 { problems.append("an offender took \(worst) gossip rounds to be graylisted (limit 10)") }
        if pending > 0 { problems.append("\(pending) honest nodes met an offence but never graylisted its author") }
        if !problems.isEmpty { result.failure = problems.joined(separator: "; ") }
    }
}
