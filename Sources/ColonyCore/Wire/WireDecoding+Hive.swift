/// Decoding the hive's wire format (the encoders are in WireEncoding+Hive.swift): every
/// value checked as it is read.
extension WireReader {
    mutating func coordinate32() throws(WireError) -> Coordinate {
        var values: [Double] = []
        for _ in 0..<(Coordinate.dimensions + 3) {
            var bits: UInt32 = 0
            for k in 0..<4 { bits |= UInt32(try u8()) << (8 * UInt32(k)) }
            values.append(Double(Float(bitPattern: bits)))
        }
        return Coordinate(
            vec: Array(values[0..<Coordinate.dimensions]), error: values[8], adjustment: values[9], height: values[10])
    }

    /// A flag, then the coordinate if there is one.
    mutating func optionalCoordinate32() throws(WireError) -> Coordinate? {
        try flag("coordinate flag") ? try coordinate32() : nil
    }

    mutating func cellID() throws(WireError) -> CellID { CellID(try fixed64()) }

    mutating func rosterVersion() throws(WireError) -> RosterVersion {
        let term = try varint()
        return RosterVersion(term: term, index: try varint())
    }

    mutating func voters() throws(WireError) -> [Voter] {
        let n = try count("voter count", minBytes: 17)
        var out: [Voter] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let id = try nodeID()
            out.append(Voter(id: id, boot: try varint()))
        }
        return out
    }

    mutating func queenClaim() throws(WireError) -> QueenClaim {
        let cell = try cellID()
        let term = try varint()
        let queen = try nodeID()
        let address = try address()
        let serial = try varint()
        let sizeAt = offset
        let size = try varint()
        guard let size32 = UInt32(exactly: size) else { throw .valueOutOfRange(field: "cell size", offset: sizeAt) }
        let open = try flag("open flag")
        let coordinate = try coordinate32()
        return QueenClaim(
            cell: cell, term: term, queen: queen, address: address, serial: serial, size: size32, open: open,
            coordinate: coordinate, signature: try signature())
    }

    mutating func broadcastIDs() throws(WireError) -> [BroadcastID] {
        let n = try count("id count", minBytes: 11)
        var out: [BroadcastID] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let at = offset
            switch try u8() {
            case 0: out.append(.record(try dot()))
            case 1: out.append(.event(try dot()))
            case 2: out.append(.claim(cell: try cellID(), term: try varint(), serial: try varint()))
            default: throw .valueOutOfRange(field: "broadcast id kind", offset: at)
            }
        }
        return out
    }

    mutating func hiveMessage() throws(WireError) -> HiveMessage {
        let at = offset
        let kind = try u8()
        let cell = try cellID()
        switch kind {
        case 0:
            let term = try varint()
            let version = try rosterVersion()
            return .preVote(cell: cell, term: term, version: version, boot: try varint())
        case 1:
            let term = try varint()
            return .preVoteReply(cell: cell, term: term, granted: try flag("granted"))
        case 2:
            let term = try varint()
            let version = try rosterVersion()
            let boot = try varint()
            return .requestVote(cell: cell, term: term, version: version, boot: boot, signature: try signature())
        case 3:
            let term = try varint()
            let candidate = try nodeID()
            let granted = try flag("granted")
            let boot = try varint()
            return .vote(
                cell: cell, term: term, candidate: candidate, granted: granted, boot: boot, signature: try signature())
        case 4:
            let term = try varint()
            let round = try varint()
            let version = try rosterVersion()
            let roster: [Voter]? = try flag("roster flag") ? try voters() : nil
            return .heartbeat(
                cell: cell, term: term, round: round, version: version, roster: roster, signature: try signature())
        case 5:
            let term = try varint()
            let round = try varint()
            let version = try rosterVersion()
            let boot = try varint()
            return .heartbeatAck(
                cell: cell, term: term, round: round, version: version, boot: boot,
                coordinate: try optionalCoordinate32())
        case 6...14:
            return try cellMembershipMessage(kind: kind, cell: cell)
        default:
            throw .valueOutOfRange(field: "hive message kind", offset: at)
        }
    }

    /// Who belongs to a cell, and the operator's and accusers' messages: kinds 6–14.
    private mutating func cellMembershipMessage(kind: UInt8, cell: CellID) throws(WireError) -> HiveMessage {
        switch kind {
        case 6:
            return .enlist(cell: cell, boot: try varint())
        case 7:
            let term = try varint()
            return .enlisted(cell: cell, term: term, accepted: try flag("accepted"))
        case 8:
            return .release(cell: cell, boot: try varint())
        case 9:
            let term = try varint()
            return .abdicate(cell: cell, term: term, dissolve: try flag("dissolve"))
        case 10:
            let term = try varint()
            let newCell = try cellID()
            let designate = try nodeID()
            let voters = try voters()
            return .breed(
                cell: cell, term: term, newCell: newCell, designate: designate, voters: voters,
                signature: try signature())
        case 11:
            let term = try varint()
            return .depose(cell: cell, term: term, signature: try signature())
        case 12:
            let accused = try nodeID()
            let accuser = try nodeID()
            let at = try varint()
            let penalty = try varint()
            return .accuse(
                cell: cell,
                accusation: Accusation(
                    accused: accused, accuser: accuser, atMs: at, penalty: penalty, signature: try signature()))
        case 13:
            let evicted = try nodeID()
            return .lift(cell: cell, evicted: evicted, signature: try signature())
        case 14:
            let term = try varint()
            let queen = try nodeID()
            let boot = try varint()
            let atMs = try varint()
            return .pledge(cell: cell, term: term, queen: queen, boot: boot, atMs: atMs, signature: try signature())
        default:
            throw .valueOutOfRange(field: "hive message kind", offset: offset)
        }
    }
}
