import ColonyCore

/// A hostile member against a formed hive (issue 18: no packet can crash a node). The simulator
/// forms a hive of `nodes` authenticated members once; then each sequence takes one member's
/// core as it stood (cores are values: a copy costs nothing until written), sends it a few
/// structurally valid packets of every message kind with extreme field values — terms,
/// incarnations, counters, rounds and sizes at 0, 1, the ceiling, `UInt64.max`, one above what
/// the victim holds — and moves its clock on so that elections, leases, suspicions and reaping
/// run on what it was told. A trap ends the process: the seed and the sequence number are
/// printed first (`colony fuzz --adversary --seed S --skip N` replays it).
///
/// The attacker is one member of the hive holding its own key (`withKey`, it signs its own
/// claims) or an outsider forging signatures; packets claim the attacker's id or spoof a member's.
public struct AdversaryFuzzer {
    public struct Counts: Sendable, Equatable {
        public var sequences = 0
        public var packets = 0
        public var ticks = 0
        /// Packets by message kind (`MessageKind.description`, and "gossip+updates").
        public var byKind: [String: Int] = [:]
        /// How deep the packets reached, summed over victims: what the victims' counters moved
        /// by (refused at the gate, refused signatures, elections, refutations, records applied)
        /// and how often a victim's hive role changed.
        public var reached: [String: Int] = [:]
        /// Packets sent from a bystander's address (a host that is no member: a victim the
        /// attacker aims the swarm at), their bytes, and the datagram bytes the victims sent
        /// that address in answer. No amplification: a packet whose answer outweighed it is
        /// counted in `amplified`, and fails the run.
        public var bystanderPackets = 0
        public var bystanderBytes = 0
        public var bystanderAnswerBytes = 0
        public var amplified = 0
    }

    /// A host that is no member's: packets "from" it are spoofed at a victim.
    public static let bystander = Address(host: "192.0.2.1", port: 7946)

    /// The hive did not form within 60 virtual seconds for this seed.
    public struct NoHive: Error, CustomStringConvertible {
        public let seed: UInt64
        public var description: String { "the adversary's hive did not form (seed \(seed))" }
    }

    public let seed: UInt64
    public private(set) var counts = Counts()
    /// The formed hive's cores, by node index (the attacker's included: it is never a victim).
    let base: [NodeCore]
    /// The attacker's packets.
    var traffic: HostileTraffic
    var rng: Xoshiro256 {
        get { traffic.rng }
        set { traffic.rng = newValue }
    }
    var ids: [NodeID] { traffic.ids }
    var addresses: [Address] { traffic.addresses }
    var attacker: Int { traffic.attacker }

    /// Form the hive (about 20 virtual seconds) and keep its cores. Throws if it does not form.
    public init(seed: UInt64, nodes: Int = 12) throws {
        self.seed = seed
        var settings = Settings.lan
        settings.hive.enabled = true
        let sim = Simulator(seed: seed, settings: settings, network: .lan)
        sim.authenticate = true
        let range = sim.addNodes(max(4, nodes))
        let table = sim.convergedTable(range)
        for i in range { sim.start(i, known: table) }
        var formed = false
        var t = Instant.zero
        while t < Instant.zero + .seconds(60) && !formed {
            t = t + .seconds(1)
            sim.run(until: t)
            formed = range.allSatisfy { sim.nodes[$0].core?.routesThroughLeasedQueen ?? false }
        }
        guard formed else { throw NoHive(seed: seed) }
        base = range.map { sim.nodes[$0].core! }
        let ids = range.map { sim.nodes[$0].id }
        let attacker = range.upperBound - 1
        traffic = HostileTraffic(
            ids: ids, addresses: range.map { sim.nodes[$0].address },
            cells: Array(Set(base.compactMap { $0.hive.cell })).sorted(), attacker: attacker,
            signer: SimAuthenticator(id: ids[attacker], swarmSecret: seed), rng: Xoshiro256(seed: seed ^ 0xAD7E_5A41))
    }

    /// Run one sequence against one victim; returns how many packets it sent.
    @discardableResult
    public mutating func one(withKey: Bool) -> Int {
        counts.sequences += 1
        let victim = rng.below(base.count - 1)
        var core = base[victim]
        var now = core.now
        let packets = 1 + rng.below(8)
        for _ in 0..<packets {
            let (packet, via) = traffic.hostilePacket(against: core, withKey: withKey)
            // Its own address, a member's (spoofed), or a bystander's (one index past the members).
            var from = addresses[attacker]
            if !rng.chance(0.8) {
                let k = rng.below(addresses.count + 1)
                from = k < addresses.count ? addresses[k] : Self.bystander
            }
            counts.packets += 1
            let kind = packet.updates.isEmpty ? packet.message.kind.description : "\(packet.message.kind)+updates"
            counts.byKind[kind, default: 0] += 1
            // The attacker's packets verify as its own identity (the gate's MAC cannot be made
            // for another's); a few arrive unverified, as from a driver that does not check.
            let sender: PacketSender = rng.chance(0.95) ? .verified(ids[attacker]) : .unverified
            let size = Wire.size(of: packet)
            let effects = core.receive(packet, from: from, sender: sender, via: via, bytes: size, now: now)
            // A stream's source is proven by its handshake: only datagrams can be spoofed.
            if from == Self.bystander && via == .datagram { countAnswers(effects, of: size) }
            if rng.chance(0.5) {
                // Let timers run on what it was told: elections, leases, suspicions, reaping.
                now = now + .milliseconds(Int64(rng.below(rng.chance(0.2) ? 20_000 : 1_500)))
                _ = core.tick(now: now)
                counts.ticks += 1
            }
        }
        tally(before: base[victim], after: core)
        return packets
    }

    /// The datagrams `effects` send the bystander, in answer to a datagram of `size` bytes.
    mutating func countAnswers(_ effects: [Effect], of size: Int) {
        var answered = 0
        for case .send(let p, let to, .datagram) in effects where to.address == Self.bystander {
            answered += Wire.size(of: p)
        }
        counts.bystanderPackets += 1
        counts.bystanderBytes += size
        counts.bystanderAnswerBytes += answered
        if answered > size { counts.amplified += 1 }
    }

    mutating func tally(before a: NodeCore, after b: NodeCore) {
        let (x, y) = (a.stats, b.stats)
        let moved: [(String, Int)] = [
            ("refused out of range", y.trust.outOfRange - x.trust.outOfRange),
            ("refused signature", y.trust.signaturesRejected - x.trust.signaturesRejected),
            ("refused unauthenticated", y.trust.unauthenticated - x.trust.unauthenticated),
            ("elections started", y.hive.electionsStarted - x.hive.electionsStarted),
            ("refutations", y.membership.refutations - x.membership.refutations),
            ("suspicions raised", y.membership.suspicionsRaised - x.membership.suspicionsRaised),
            ("records applied", y.state.recordsApplied - x.state.recordsApplied),
        ]
        for (name, n) in moved where n > 0 { counts.reached[name, default: 0] += n }
        if a.hive.role != b.hive.role { counts.reached["role changed", default: 0] += 1 }
    }
}
