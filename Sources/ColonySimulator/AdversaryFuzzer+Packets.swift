import ColonyCore

/// The hostile packets: every message kind and every kind of piggybacked news, aimed at what the
/// victim holds (its cell, its queen, its members) with extreme values.
extension HostileTraffic {
    mutating func hostilePacket(against v: NodeCore, withKey: Bool) -> (Packet, Transport) {
        let from = rng.chance(0.8) ? ids[attacker] : someID(v)
        let message = hostileMessage(against: v, withKey: withKey)
        var updates: [Update] = []
        if rng.chance(0.4) {
            updates = (0..<(1 + rng.below(6))).map { _ in hostileUpdate(against: v, withKey: withKey) }
        }
        let via: Transport
        if case .sync = message { via = .stream } else { via = rng.chance(0.9) ? .datagram : .stream }
        return (Packet(from: from, message: message, updates: updates), via)
    }

    mutating func hostileMessage(against v: NodeCore, withKey: Bool) -> Message {
        switch rng.below(14) {
        case 0: return .ping(seq: wild32(), target: someID(v))
        case 1: return .ack(seq: wild32(), coordinate: rng.chance(0.5) ? coordinate() : nil)
        case 2: return .nack(seq: wild32())
        case 3: return .pingReq(seq: wild32(), target: someID(v), targetAddress: addresses[rng.below(addresses.count)])
        case 4, 5: return .gossip
        case 6, 7: return .sync(hostileSync(against: v, withKey: withKey))
        case 8:
            return .queryResponse(
                QueryResponse(query: dot(v), from: someID(v), name: name(), payload: bytes(rng.below(64))))
        case 9, 10, 11: return .hive(hostileHive(against: v, withKey: withKey))
        case 12:
            let scope: RouteScope = [.swarm, .cell, .leaf][rng.below(3)]
            return .route(
                scope: scope, updates: (0..<rng.below(6)).map { _ in hostileUpdate(against: v, withKey: withKey) })
        default:
            let ids = (0..<rng.below(rng.chance(0.1) ? 2_000 : 6)).map { _ in broadcastID(v) }
            return rng.chance(0.5) ? .ihave(ids) : .graft(ids)
        }
    }

    mutating func broadcastID(_ v: NodeCore) -> BroadcastID {
        switch rng.below(3) {
        case 0: .record(dot(v))
        case 1: .event(dot(v))
        default: .claim(cell: someCell(v), term: wild(near: v.hive.term), serial: wild(near: 1))
        }
    }

    mutating func hostileHive(against v: NodeCore, withKey: Bool) -> HiveMessage {
        let cell = someCell(v)
        let term = wild(near: v.hive.term)
        let me = ids[attacker]
        switch rng.below(16) {
        case 0: return .preVote(cell: cell, term: term, version: version(v), boot: wild(near: 1))
        case 1: return .preVoteReply(cell: cell, term: term, granted: rng.chance(0.8))
        case 2:
            let version = version(v)
            let sig = signature(
                for: SignedClaim.requestVote(cell: cell, term: term, candidate: me, version: version), origin: me,
                withKey: withKey)
            return .requestVote(cell: cell, term: term, version: version, boot: wild(near: 1), signature: sig)
        case 3:
            let candidate = rng.chance(0.7) ? v.me.id : someID(v)
            let sig = signature(
                for: SignedClaim.vote(cell: cell, term: term, candidate: candidate, voter: me, granted: true),
                origin: me, withKey: withKey)
            return .vote(
                cell: cell, term: term, candidate: candidate, granted: true, boot: wild(near: 1), signature: sig)
        case 4:
            let round = wild(near: 1)
            let version = version(v)
            let sig = signature(
                for: SignedClaim.heartbeat(cell: cell, term: term, round: round, version: version, queen: me),
                origin: me, withKey: withKey)
            return .heartbeat(
                cell: cell, term: term, round: round, version: version, roster: rng.chance(0.5) ? voters(v) : nil,
                signature: sig)
        case 5:
            return .heartbeatAck(
                cell: cell, term: term, round: wild(near: 1), version: version(v), boot: wild(near: 1),
                coordinate: rng.chance(0.5) ? coordinate() : nil)
        case 6: return .enlist(cell: cell, boot: wild(near: 1))
        case 7: return .enlisted(cell: cell, term: term, accepted: rng.chance(0.5))
        case 8: return .release(cell: cell, boot: wild(near: 1))
        case 9: return .abdicate(cell: cell, term: term, dissolve: rng.chance(0.5))
        case 10:
            let newCell = someCell(v)
            let designate = someID(v)
            let voters = voters(v)
            let sig = signature(
                for: SignedClaim.breed(
                    cell: cell, term: term, newCell: newCell, designate: designate, voters: voters, queen: me),
                origin: me, withKey: withKey)
            return .breed(
                cell: cell, term: term, newCell: newCell, designate: designate, voters: voters, signature: sig)
        case 11:
            let sig = signature(for: SignedClaim.depose(cell: cell, term: term, by: me), origin: me, withKey: withKey)
            return .depose(cell: cell, term: term, signature: sig)
        case 12, 13:
            let a = Accusation(
                accused: someID(v), accuser: rng.chance(0.7) ? me : someID(v), atMs: wild(near: 1_750_000_000_000),
                penalty: wild(near: 100), signature: signature(for: bytes(8), origin: me, withKey: false))
            return .accuse(cell: cell, accusation: a)
        case 14:
            let queen = rng.chance(0.5) ? me : someID(v)
            let boot = wild(near: 1)
            let atMs = wild(near: 1_750_000_000_000)
            let sig = signature(
                for: SignedClaim.pledge(cell: cell, term: term, queen: queen, member: me, boot: boot, atMs: atMs),
                origin: me, withKey: withKey)
            return .pledge(cell: cell, term: term, queen: queen, boot: boot, atMs: atMs, signature: sig)
        default:
            return .lift(
                cell: cell, evicted: someID(v), signature: signature(for: bytes(8), origin: me, withKey: false))
        }
    }

    mutating func hostileSync(against v: NodeCore, withKey: Bool) -> Sync {
        let e = wild32()
        switch rng.below(12) {
        case 0: return .join(exchange: e, members: (0..<rng.below(5)).map { _ in member(v, withKey: withKey) })
        case 1: return .joinReply(exchange: e, members: (0..<rng.below(5)).map { _ in member(v, withKey: withKey) })
        case 2: return .digest(exchange: e, root: rng.next(), count: wild32())
        case 3: return .inSync(exchange: e)
        case 4:
            let bits = UInt8(truncatingIfNeeded: [0, 1, 2, 8, 15, 16, 63, 64, 255][rng.below(9)])
            return .buckets(exchange: e, bits: bits, hashes: (0..<rng.below(70)).map { _ in rng.next() })
        case 5:
            return .entries(
                exchange: e, bits: UInt8(truncatingIfNeeded: rng.below(300)),
                buckets: (0..<rng.below(10)).map { _ in UInt16(truncatingIfNeeded: rng.next()) },
                members: (0..<rng.below(4)).map { _ in member(v, withKey: withKey) }, isReply: rng.chance(0.5))
        case 6: return .stateRoot(exchange: e, root: rng.next())
        case 7: return .stateDigest(exchange: e, digest: (0..<rng.below(6)).map { _ in digestEntry(v) })
        case 8:
            return .stateRecords(
                exchange: e, records: (0..<rng.below(4)).map { _ in record(v, withKey: withKey) },
                through: (0..<rng.below(4)).map { _ in dot(v) }, complete: rng.chance(0.5),
                digest: rng.chance(0.5) ? (0..<rng.below(4)).map { _ in digestEntry(v) } : nil)
        case 9: return .recentEvents(exchange: e, events: (0..<rng.below(4)).map { _ in event(v, withKey: withKey) })
        case 10: return .eventIDs(exchange: e, ids: (0..<rng.below(8)).map { _ in dot(v) }, isReply: rng.chance(0.5))
        default: return .missedEvents(exchange: e, events: (0..<rng.below(4)).map { _ in event(v, withKey: withKey) })
        }
    }

    mutating func digestEntry(_ v: NodeCore) -> DigestEntry {
        DigestEntry(
            origin: someID(v),
            seen: OriginSeen(base: wild(near: 1), extras: (0..<rng.below(5)).map { _ in wild(near: 2) }))
    }

    mutating func hostileUpdate(against v: NodeCore, withKey: Bool) -> Update {
        let held = v.me.incarnation
        switch rng.below(8) {
        case 0: return .alive(member(v, withKey: withKey))
        case 1: return .suspect(id: someID(v), incarnation: wild(near: held), from: someID(v))
        case 2: return .dead(id: someID(v), incarnation: wild(near: held), from: someID(v))
        case 3:
            let id = someID(v)
            let inc = wild(near: held)
            return .left(
                id: id, incarnation: inc,
                signature: signature(
                    for: SignedClaim.left(id: id, incarnation: inc), origin: id, withKey: withKey))
        case 4: return .record(record(v, withKey: withKey))
        case 5: return .event(event(v, withKey: withKey))
        case 6: return .query(query(v, withKey: withKey))
        default: return .queen(claim(v, withKey: withKey))
        }
    }

    /// Who a piece of news claims to come from: mostly the attacker itself (whose signatures
    /// can be valid), else anyone the victim might know.
    mutating func author(_ v: NodeCore) -> NodeID { rng.chance(0.7) ? ids[attacker] : someID(v) }

    mutating func member(_ v: NodeCore, withKey: Bool) -> Member {
        let id = author(v)
        var m = Member(
            id: id, name: name(), address: addresses[rng.below(addresses.count)],
            tags: rng.chance(0.2) ? [name(): name()] : [:], incarnation: wild(near: v.me.incarnation),
            status: [.alive, .suspect, .dead, .left][rng.below(4)],
            protocolVersion: UInt8(truncatingIfNeeded: [ProtocolVersion.current, 0, 255][rng.below(3)]))
        m.signature = signature(for: SignedClaim.alive(m), origin: id, withKey: withKey)
        return m
    }

    mutating func record(_ v: NodeCore, withKey: Bool) -> StateRecord {
        let origin = author(v)
        let counter = wild(near: 1)
        var context = CausalContext()
        for _ in 0..<rng.below(4) { context.add(dot(v), prev: wild(near: 0)) }
        var r = StateRecord(
            key: rng.chance(0.2) ? "_colony/evict/" + name() : name(),
            value: rng.chance(0.2) ? nil : bytes(rng.below(64)),
            dot: Dot(origin: origin, counter: counter), prev: wild(near: counter &- 1), context: context,
            timestamp: HLCTimestamp(
                physicalMs: wild(near: 1_750_000_000_000), logical: UInt32(truncatingIfNeeded: rng.next())))
        r.signature = signature(for: SignedClaim.record(r), origin: origin, withKey: withKey)
        return r
    }

    mutating func event(_ v: NodeCore, withKey: Bool) -> UserEvent {
        let origin = author(v)
        var e = UserEvent(
            id: Dot(origin: origin, counter: wild(near: 1)), lamport: wild(near: 1), name: name(),
            payload: bytes(rng.below(64)), coalesce: rng.chance(0.5))
        e.signature = signature(for: SignedClaim.event(e), origin: origin, withKey: withKey)
        return e
    }

    mutating func query(_ v: NodeCore, withKey: Bool) -> Query {
        let origin = author(v)
        var q = Query(
            id: Dot(origin: origin, counter: wild(near: 1)), lamport: wild(near: 1), name: name(),
            payload: bytes(rng.below(32)), filter: QueryFilter(names: rng.chance(0.3) ? [name()] : []),
            asker: addresses[rng.below(addresses.count)], timeoutMs: wild32())
        q.signature = signature(for: SignedClaim.query(q), origin: origin, withKey: withKey)
        return q
    }

    mutating func claim(_ v: NodeCore, withKey: Bool) -> QueenClaim {
        let queen = author(v)
        var c = QueenClaim(
            cell: someCell(v), term: wild(near: v.hive.term), queen: queen,
            address: addresses[rng.below(addresses.count)],
            serial: wild(near: 1), size: wild32(), open: rng.chance(0.5), coordinate: coordinate())
        c.signature = signature(for: SignedClaim.queen(c), origin: queen, withKey: withKey)
        return c
    }
}
