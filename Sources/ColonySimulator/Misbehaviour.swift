import ColonyCore

/// How a simulated node behaves.
package enum Behaviour: String, Sendable, CaseIterable {
    case honest
    /// Sends far more packets than any honest member (valid ones: only the rate shows it).
    case flooder
    /// Sends claims, records and events in other members' names, signed with its own key.
    case forger
    /// Takes and gives nothing: ignores ping-reqs and relays no gossip.
    case freeloader
}

// MARK: Misbehaviour wraps a node's effects: what its core sends passes through
// `outgoing`, what reaches it through `ignores`. Flooders and forgers add traffic of their
// own (`scheduleFlood`, `scheduleForgeries`), injected as if their cores had sent it.

extension Behaviour {
    /// What a node that behaves so sends of what its core (`me`) would send: nil for
    /// nothing. A freeloader relays nothing: no gossip rounds, no piggybacked news but its
    /// own claims (it wants to stay a member).
    func outgoing(_ packet: Packet, from me: NodeID) -> Packet? {
        guard self == .freeloader else { return packet }
        if case .gossip = packet.message { return nil }
        var packet = packet
        packet.updates = packet.updates.filter { $0.subject == .member(me) }
        return packet
    }

    /// Whether a node that behaves so drops this packet unread: a freeloader ignores
    /// requests to probe for others.
    func ignores(_ packet: Packet) -> Bool {
        guard self == .freeloader, case .pingReq = packet.message else { return false }
        return true
    }
}

extension Simulation.Context {
    /// Node `o` floods: 2,000 valid packets a second (its own alive claim) at `targets` in
    /// turn, in 10 ms bursts, from `start` until `end`.
    func scheduleFlood(from o: Int, at targets: [Int], start: Instant, end: Instant) {
        let id = sim.nodes[o].id
        var t = start
        while t < end {
            sim.schedule(at: t) { s in
                guard let core = s.nodes[o].core else { return }
                for k in 0..<20 {
                    s.inject(
                        Packet(from: id, message: .gossip, updates: [.alive(core.me)]), from: o,
                        to: targets[k % targets.count])
                }
            }
            t += .milliseconds(10)
        }
    }

    /// Node `o` forges: every `period` (from a random point in the first) until `end`, to a
    /// random honest member it can reach, the updates `forge(simulator, victim, serial)`
    /// makes in a random honest victim's name (serials from 1; nil: nothing sent).
    mutating func scheduleForgeries(
        from o: Int, honest: [Int], reachable: (Int, Int) -> Bool, start: Instant, end: Instant, period: Duration,
        forge: @escaping (Simulator, Int, UInt64) -> [Update]?
    ) {
        let id = sim.nodes[o].id
        var t = start + rng.duration(below: period)
        var serial: UInt64 = 0
        while t < end {
            let near = honest.filter { reachable($0, o) }
            let target = near[rng.below(near.count)]
            let victim = honest[rng.below(honest.count)]
            serial += 1
            let k = serial
            sim.schedule(at: t) { s in
                guard let updates = forge(s, victim, k) else { return }
                s.inject(Packet(from: id, message: .gossip, updates: updates), from: o, to: target)
            }
            t += period
        }
    }
}

extension Simulator {
    /// A record in `victim`'s name, signed with `forger`'s own key (number `serial`).
    func forgedRecord(by forger: Int, victim: Int, serial: UInt64) -> StateRecord {
        let signer = SimAuthenticator(id: nodes[forger].id, swarmSecret: seed)
        var record = StateRecord(
            key: "forged/\(serial)", value: [1], dot: Dot(origin: nodes[victim].id, counter: 1 << 30 + serial),
            prev: 0, context: CausalContext(), timestamp: HLCTimestamp(physicalMs: wallMs(forger), logical: 0))
        record.signature = Signature(
            publicKey: SimAuthenticator.publicKey(for: nodes[victim].id), bytes: signer.sign(SignedClaim.record(record))
        )
        return record
    }

    /// A claim that `victim` is alive at a new address, with an event in its name, both
    /// signed with `forger`'s own key (number `serial`), and a record as `forgedRecord`.
    func forgedClaims(by forger: Int, victim: Int, serial: UInt64) -> [Update]? {
        guard let core = nodes[forger].core, let known = core.member(nodes[victim].id) else { return nil }
        let victimID = nodes[victim].id
        let signer = SimAuthenticator(id: nodes[forger].id, swarmSecret: seed)
        var claim = known
        claim.incarnation += 1_000 + serial
        claim.address = Address(host: "10.66.6.6", port: 7946)
        claim.status = .alive
        claim.signature = Signature(
            publicKey: SimAuthenticator.publicKey(for: victimID), bytes: signer.sign(SignedClaim.alive(claim)))
        let record = forgedRecord(by: forger, victim: victim, serial: serial)
        var event = UserEvent(
            id: Dot(origin: victimID, counter: 1 << 40 + serial), lamport: 1, name: "forged", payload: [],
            coalesce: false)
        event.signature = Signature(
            publicKey: SimAuthenticator.publicKey(for: victimID), bytes: signer.sign(SignedClaim.event(event)))
        return [.alive(claim), .record(record), .event(event)]
    }
}
