import ColonyCore

/// Hostile packets of every kind with extreme field values, as one attacker holding its own
/// key sends them (issue 18): what `AdversaryFuzzer` feeds a victim's core, and what the
/// `byzantine` scenario's attackers inject into a running swarm. Packets claim the attacker's
/// id or spoof a member's; news is signed with the attacker's key (`withKey`) or forged.
package struct HostileTraffic {
    let ids: [NodeID]
    let addresses: [Address]
    let cells: [CellID]
    let attacker: Int
    let signer: SimAuthenticator
    var rng: Xoshiro256

    package init(
        ids: [NodeID], addresses: [Address], cells: [CellID], attacker: Int, signer: SimAuthenticator, rng: Xoshiro256
    ) {
        self.ids = ids
        self.addresses = addresses
        self.cells = cells
        self.attacker = attacker
        self.signer = signer
        self.rng = rng
    }
}

extension HostileTraffic {
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
