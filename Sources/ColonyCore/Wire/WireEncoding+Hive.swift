/// The hive's wire format: coordinates, cells, rosters, claims, broadcast ids and the
/// election, lease and roster messages (docs/design.md §5).
extension ByteSink {
    /// A coordinate as eleven 32-bit floats: microsecond precision for round trips up to
    /// seconds, at half the bytes.
    mutating func coordinate32(_ c: Coordinate) {
        for v in c.vec + [c.error, c.adjustment, c.height] {
            let bits = Float(v).bitPattern
            for k in 0..<4 { write(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(k)))) }
        }
    }

    /// A flag, then the coordinate if there is one.
    mutating func coordinate32(_ c: Coordinate?) {
        if let c {
            write(1)
            coordinate32(c)
        } else {
            write(0)
        }
    }

    mutating func cellID(_ c: CellID) { fixed64(c.raw) }

    mutating func rosterVersion(_ v: RosterVersion) {
        varint(v.term)
        varint(v.index)
    }

    mutating func voters(_ vs: [Voter]) {
        varint(UInt64(vs.count))
        for v in vs {
            nodeID(v.id)
            varint(v.boot)
        }
    }

    mutating func queenClaimBody(_ c: QueenClaim) {
        cellID(c.cell)
        varint(c.term)
        nodeID(c.queen)
        address(c.address)
        varint(c.serial)
        varint(UInt64(c.size))
        write(c.open ? 1 : 0)
        coordinate32(c.coordinate)
    }

    mutating func broadcastIDs(_ ids: [BroadcastID]) {
        varint(UInt64(ids.count))
        for id in ids {
            switch id {
            case .record(let d):
                write(0)
                dot(d)
            case .event(let d):
                write(1)
                dot(d)
            case .claim(let cell, let term, let serial):
                write(2)
                cellID(cell)
                varint(term)
                varint(serial)
            }
        }
    }
}

extension HiveMessage {
    func encode<S: ByteSink>(into out: inout S) {
        switch self {
        case .preVote, .preVoteReply, .requestVote, .vote, .heartbeat, .heartbeatAck:
            encodeElectionOrLease(into: &out)
        case .enlist, .enlisted, .release, .abdicate, .breed, .depose, .accuse, .lift, .pledge:
            encodeCellMembership(into: &out)
        }
    }

    /// Elections and the lease: kinds 0–5.
    private func encodeElectionOrLease<S: ByteSink>(into out: inout S) {
        switch self {
        case .preVote(let cell, let term, let version, let boot):
            out.write(0)
            out.cellID(cell)
            out.varint(term)
            out.rosterVersion(version)
            out.varint(boot)
        case .preVoteReply(let cell, let term, let granted):
            out.write(1)
            out.cellID(cell)
            out.varint(term)
            out.write(granted ? 1 : 0)
        case .requestVote(let cell, let term, let version, let boot, let signature):
            out.write(2)
            out.cellID(cell)
            out.varint(term)
            out.rosterVersion(version)
            out.varint(boot)
            out.signature(signature)
        case .vote(let cell, let term, let candidate, let granted, let boot, let signature):
            out.write(3)
            out.cellID(cell)
            out.varint(term)
            out.nodeID(candidate)
            out.write(granted ? 1 : 0)
            out.varint(boot)
            out.signature(signature)
        case .heartbeat(let cell, let term, let round, let version, let roster, let signature):
            out.write(4)
            out.cellID(cell)
            out.varint(term)
            out.varint(round)
            out.rosterVersion(version)
            if let roster {
                out.write(1)
                out.voters(roster)
            } else {
                out.write(0)
            }
            out.signature(signature)
        case .heartbeatAck(let cell, let term, let round, let version, let boot, let coordinate):
            out.write(5)
            out.cellID(cell)
            out.varint(term)
            out.varint(round)
            out.rosterVersion(version)
            out.varint(boot)
            out.coordinate32(coordinate)
        default:
            preconditionFailure("encodeElectionOrLease called for \(self)")
        }
    }

    /// Who belongs to a cell, and the operator's and accusers' messages: kinds 6–14.
    private func encodeCellMembership<S: ByteSink>(into out: inout S) {
        switch self {
        case .enlist(let cell, let boot):
            out.write(6)
            out.cellID(cell)
            out.varint(boot)
        case .enlisted(let cell, let term, let accepted):
            out.write(7)
            out.cellID(cell)
            out.varint(term)
            out.write(accepted ? 1 : 0)
        case .release(let cell, let boot):
            out.write(8)
            out.cellID(cell)
            out.varint(boot)
        case .abdicate(let cell, let term, let dissolve):
            out.write(9)
            out.cellID(cell)
            out.varint(term)
            out.write(dissolve ? 1 : 0)
        case .breed(let cell, let term, let newCell, let designate, let voters, let signature):
            out.write(10)
            out.cellID(cell)
            out.varint(term)
            out.cellID(newCell)
            out.nodeID(designate)
            out.voters(voters)
            out.signature(signature)
        case .depose(let cell, let term, let signature):
            out.write(11)
            out.cellID(cell)
            out.varint(term)
            out.signature(signature)
        case .accuse(let cell, let a):
            out.write(12)
            out.cellID(cell)
            out.nodeID(a.accused)
            out.nodeID(a.accuser)
            out.varint(a.atMs)
            out.varint(a.penalty)
            out.signature(a.signature)
        case .lift(let cell, let evicted, let signature):
            out.write(13)
            out.cellID(cell)
            out.nodeID(evicted)
            out.signature(signature)
        case .pledge(let cell, let term, let queen, let boot, let atMs, let signature):
            out.write(14)
            out.cellID(cell)
            out.varint(term)
            out.nodeID(queen)
            out.varint(boot)
            out.varint(atMs)
            out.signature(signature)
        default:
            preconditionFailure("encodeCellMembership called for \(self)")
        }
    }
}
