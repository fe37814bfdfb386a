import ColonyCore
import Foundation

/// The attackers' hostile traffic in the byzantine scenario: one generator per attacker, kept
/// across the simulator's scheduled actions.
final class HostileSenders {
    var traffic: [Int: HostileTraffic] = [:]
    var sent = 0
}

extension Simulation.Context {
    /// `byzantine` (issue 18): a formed, signed hive in which `--offenders` members (default
    /// 10 %, at least 2) hold valid keys and attack for `--duration` s (default 60) while honest
    /// members broadcast: each floods or forges records in honest members' names (as in
    /// `evict`), and all of them send hostile packets of every kind with extreme values —
    /// forged death and suspicion claims, hive messages claiming queenship, deposals, lifts and
    /// votes, spoofed senders, forged evictions, query answers, oversized and out-of-range
    /// news — ten a second each at random honest members (`HostileTraffic`, what `colony fuzz
    /// --adversary` sends one core) — and together they frame one honest worker, accusing it
    /// to every queen each second (`scheduleFraming`). 5 % of links are broken meanwhile.
    /// Targets: every honest
    /// broadcast reaches every honest member; no honest member evicted; none held dead at the
    /// end (a forged death is refuted); every attacker graylisted by some honest member or
    /// evicted; the invariants hold and nothing traps.
    mutating func byzantine(_ result: inout SimulationResult) {
        var hostile = HostileSenders()
        guard
            let attack = startAttack(
                &result, offenders: options.evict.offenders ?? max(2, n / 10),
                more: {
                    hostile = $0.scheduleHostileTraffic($1, start: $2, end: $3)
                })
        else { return }
        let (cast, ledger, tracker) = (attack.cast, attack.ledger, attack.tracker)
        let (attackStart, attackEnd, sentBefore) = (attack.start, attack.end, attack.sentBefore)
        _ = waitEvictedEverywhere(ledger, cast: cast, until: attackEnd)
        // After the attack: time for refutations, rejoins and the last broadcasts.
        sim.run(until: max(sim.now, attackEnd) + .seconds(20))
        finishBroadcasts(&result, tracker: tracker, sentBefore: sentBefore)

        let honest = cast.honest
        let graylisted = cast.offenders.filter { o in
            ledger.everywhereAt[o] != nil || !(ledger.graylistedBy[o] ?? []).isEmpty
                || honest.contains { sim.nodes[$0].core?.isGraylisted(sim.nodes[o].id) == true }
        }
        let dead = honest.filter { h in
            honest.contains { o in o != h && sim.nodes[o].core?.member(sim.nodes[h].id)?.status.isGone != false }
        }
        result.evict.offenders = cast.offenders.count
        result.evict.offendersEvicted = ledger.everywhereAt.count
        result.evict.offendersGraylisted = graylisted.count
        result.evict.honestDead = dead.count
        result.evict.hostilePackets = hostile.sent
        result.evict.evictTime = Distribution(ledger.everywhereAt.values.map { ($0 - attackStart).inMilliseconds })
        result.hive.honestEvicted = ledger.honestEvicted.count

        var problems: [String] = []
        if (result.hive.deliveryRatio ?? 0) < 1 {
            problems.append(String(format: "honest delivery %.5f, not 1", result.hive.deliveryRatio ?? 0))
        }
        if !ledger.honestEvicted.isEmpty { problems.append("honest members evicted: \(ledger.honestEvicted.sorted())") }
        if !dead.isEmpty { problems.append("honest members held dead at the end: \(dead.sorted())") }
        let free = cast.offenders.filter { !graylisted.contains($0) }
        if !free.isEmpty { problems.append("attackers neither graylisted nor evicted: \(free)") }
        if !problems.isEmpty { result.failure = problems.joined(separator: "; ") }
        result.converged = problems.isEmpty
    }

    /// Every offender sends ten hostile packets a second, from `start` until `end`, each to a
    /// random honest member, aimed at what that member holds.
    func scheduleHostileTraffic(_ cast: Cast, start: Instant, end: Instant) -> HostileSenders {
        let senders = HostileSenders()
        // Their own alive claims, signed with their own keys, carry incarnations they invent.
        sim.selfSigningLiars.formUnion(cast.offenders)
        let ids = sim.nodes.map(\.id)
        let addresses = sim.nodes.map(\.address)
        let cells = Array(Set(sim.upNodes.compactMap { sim.nodes[$0].core?.hive.cell })).sorted()
        for o in cast.offenders {
            senders.traffic[o] = HostileTraffic(
                ids: ids, addresses: addresses, cells: cells, attacker: o,
                signer: SimAuthenticator(id: ids[o], swarmSecret: sim.seed),
                rng: Xoshiro256(seed: sim.seed ^ 0xB7_2A17 ^ UInt64(o) << 20))
        }
        let honest = cast.honest
        var t = start
        while t < end {
            sim.schedule(at: t) { s in
                for o in cast.offenders where s.nodes[o].isUp {
                    guard var traffic = senders.traffic[o] else { continue }
                    let victim = honest[traffic.rng.below(honest.count)]
                    if let core = s.nodes[victim].core {
                        let (packet, via) = traffic.hostilePacket(against: core, withKey: true)
                        s.inject(packet, from: o, to: victim, via: via)
                        senders.sent += 1
                    }
                    senders.traffic[o] = traffic
                }
            }
            t += .milliseconds(100)
        }
        scheduleFraming(cast, start: start, end: end)
        return senders
    }

    /// The attackers collude to frame one honest worker: every second each sends every queen
    /// its signed accusation of it, as grave as can be. Its own cell does not accuse it, and
    /// the attackers are fewer than its cell counts, so it must not be evicted (issue 18).
    func scheduleFraming(_ cast: Cast, start: Instant, end: Instant) {
        guard
            let victim = cast.honest.first(where: { h in
                sim.nodes[h].core.map { $0.hive.role == .worker && ($0.hive.roster?.count ?? 0) > cast.offenders.count }
                    ?? false
            })
        else { return }
        let accused = sim.nodes[victim].id
        let signers = cast.offenders.map { SimAuthenticator(id: sim.nodes[$0].id, swarmSecret: sim.seed) }
        var t = start
        while t < end {
            sim.schedule(at: t) { s in
                let queens = s.upNodes.filter { s.nodes[$0].core?.hive.role == .queen }
                for (o, signer) in zip(cast.offenders, signers) where s.nodes[o].isUp {
                    var a = Accusation(accused: accused, accuser: s.nodes[o].id, atMs: s.wallMs(o), penalty: 1 << 30)
                    a.signature = Signature(publicKey: signer.publicKey, bytes: signer.sign(SignedClaim.accusation(a)))
                    for q in queens where q != o {
                        guard let cell = s.nodes[q].core?.hive.cell else { continue }
                        s.inject(
                            Packet(from: s.nodes[o].id, message: .hive(.accuse(cell: cell, accusation: a))), from: o,
                            to: q)
                    }
                }
            }
            t += .seconds(1)
        }
    }
}
