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
    }

    /// The hive did not form within 60 virtual seconds for this seed.
    public struct NoHive: Error, CustomStringConvertible {
        public let seed: UInt64
        public var description: String { "the adversary's hive did not form (seed \(seed))" }
    }

    public let seed: UInt64
    public private(set) var counts = Counts()
    /// The formed hive's cores, by node index (the attacker's included: it is never a victim).
    let base: [NodeCore]
    let ids: [NodeID]
    let addresses: [Address]
    let cells: [CellID]
    let attacker: Int
    let signer: SimAuthenticator
    var rng: Xoshiro256

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
        ids = range.map { sim.nodes[$0].id }
        addresses = range.map { sim.nodes[$0].address }
        cells = Array(Set(base.compactMap { $0.hive.cell })).sorted()
        attacker = range.upperBound - 1
        signer = SimAuthenticator(id: ids[attacker], swarmSecret: seed)
        rng = Xoshiro256(seed: seed ^ 0xAD7E_5A41)
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
            let (packet, via) = hostilePacket(against: core, withKey: withKey)
            let from = rng.chance(0.8) ? addresses[attacker] : addresses[rng.below(addresses.count)]
            counts.packets += 1
            let kind = packet.updates.isEmpty ? packet.message.kind.description : "\(packet.message.kind)+updates"
            counts.byKind[kind, default: 0] += 1
            // The attacker's packets verify as its own identity (the gate's MAC cannot be made
            // for another's); a few arrive unverified, as from a driver that does not check.
            let sender: PacketSender = rng.chance(0.95) ? .verified(ids[attacker]) : .unverified
            _ = core.receive(packet, from: from, sender: sender, via: via, bytes: Wire.size(of: packet), now: now)
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

    // MARK: Hostile values

    /// An integer an attacker would pick: the edges of its type and of the protocol's ceiling,
    /// or just above what the victim holds.
    mutating func wild(near held: UInt64) -> UInt64 {
        // One value in four at an edge: the rest plausible, so packets get past the gate and
        // reach the handlers with values near what the victim holds.
        if rng.chance(0.25) {
            return [0, 1, .max, .max - 1, 1 << 62, (1 << 62) - 1, UInt64(UInt32.max), rng.next()][rng.below(8)]
        }
        switch rng.below(4) {
        case 0: return held
        case 1: return held &+ 1
        case 2: return held &+ UInt64(rng.below(4))
        default: return UInt64(rng.below(1_000))
        }
    }

    mutating func wild32() -> UInt32 {
        [0, 1, .max, .max - 1, UInt32(rng.below(64)), UInt32(truncatingIfNeeded: rng.next())][rng.below(6)]
    }

    mutating func wildDouble() -> Double {
        guard rng.chance(0.05) else { return rng.unit() * 0.2 - 0.1 }
        return [0, -1, 1e300, -1e300, .nan, .infinity, -.infinity, .leastNonzeroMagnitude][rng.below(8)]
    }

    mutating func someID(_ victim: NodeCore) -> NodeID {
        switch rng.below(6) {
        case 0: victim.me.id
        case 1: ids[attacker]
        case 2: victim.hive.queen ?? ids[rng.below(ids.count)]
        case 3: NodeID(high: rng.next(), low: rng.next())
        default: ids[rng.below(ids.count)]
        }
    }

    mutating func someCell(_ victim: NodeCore) -> CellID {
        switch rng.below(4) {
        case 0, 1: victim.hive.cell ?? cells.first ?? CellID(1)
        case 2: cells.isEmpty ? CellID(rng.next()) : cells[rng.below(cells.count)]
        default: CellID(rng.next())
        }
    }

    mutating func signature(for claim: [UInt8], origin: NodeID, withKey: Bool) -> Signature? {
        if withKey && origin == ids[attacker] && rng.chance(0.8) {
            return Signature(publicKey: signer.publicKey, bytes: signer.sign(claim))
        }
        switch rng.below(3) {
        case 0: return nil
        case 1: return Signature(publicKey: SimAuthenticator.publicKey(for: origin), bytes: bytes(16))
        default: return Signature(publicKey: bytes(32), bytes: bytes(rng.below(80)))
        }
    }

    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    mutating func name() -> String {
        ["", "x", "_colony-keyring", String(repeating: "n", count: 1 + rng.below(600)), "ping"][rng.below(5)]
    }

    mutating func version(_ victim: NodeCore) -> RosterVersion {
        let held = victim.hive.roster?.version ?? .zero
        return RosterVersion(term: wild(near: held.term), index: wild(near: held.index))
    }

    mutating func voters(_ victim: NodeCore) -> [Voter] {
        (0..<rng.below(rng.chance(0.1) ? 300 : 8)).map { _ in Voter(id: someID(victim), boot: wild(near: 1)) }
    }

    mutating func coordinate() -> Coordinate {
        Coordinate(
            vec: (0..<(rng.chance(0.9) ? Coordinate.dimensions : rng.below(20))).map { _ in wildDouble() },
            error: wildDouble(), adjustment: wildDouble(), height: wildDouble())
    }

    mutating func dot(_ victim: NodeCore) -> Dot { Dot(origin: someID(victim), counter: wild(near: 1)) }
}
