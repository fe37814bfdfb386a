/// Operator deposal, and the shape of cells: a full cell breeds (splits in two), a small one
/// merges into its neighbours.
extension NodeCore {
    // MARK: Deposing

    /// `colony hive depose`: the queen of `cell` (default: this node's) abdicates — at once
    /// if she is this node, else by a signed order sent to her — and sits out elections for
    /// ten maximum election timeouts, so another member is elected. Where operators are
    /// required (`requiresOperator`), `order` is an operator's signature of
    /// `OperatorOrder.depose` for the queen's cell and current term.
    public mutating func depose(
        cell: CellID? = nil, order: Signature? = nil, now: Instant
    ) -> (Result<Deposal, DeposeError>, [Effect]) {
        advance(to: now)
        guard hiveOn else { return (.failure(.hiveOff), flush()) }
        guard let target = cell ?? hive.cell else { return (.failure(.noQueen(nil)), flush()) }
        if requiresOperator, let term = reignTerm(of: target),
            let refusal = check(.depose(cell: target, term: term), signature: order)
        {
            trust.stats.ordersRefused += 1
            return (.failure(.order(refusal)), flush())
        }
        if target == hive.cell, hive.role == .queen {
            let d = Deposal(cell: target, term: hive.term, queen: me.id, local: true)
            deposeSelf(reason: "deposed by an operator")
            return (.success(d), flush())
        }
        let queen: (id: NodeID, term: UInt64)?
        if target == hive.cell, let q = hive.queen {
            queen = (q, hive.term)
        } else if let c = hive.cells[target], !c.dissolved {
            queen = (c.queen, c.term)
        } else {
            queen = nil
        }
        guard let queen, let m = table[queen.id]?.member, m.status.isLive else {
            return (.failure(.noQueen(target)), flush())
        }
        let signature = requiresOperator ? order : sign(SignedClaim.depose(cell: target, term: queen.term, by: me.id))
        sendDatagram(.hive(.depose(cell: target, term: queen.term, signature: signature)), to: m.peer)
        return (.success(Deposal(cell: target, term: queen.term, queen: queen.id, local: false)), flush())
    }

    /// An order to this queen to abdicate: an operator's where operators are required (whoever
    /// relays it), else a live member's own.
    mutating func onDepose(cell: CellID, term: UInt64, signature: Signature?, from: NodeID, blame: NodeID?) {
        guard hive.role == .queen, cell == hive.cell, term == hive.term, from != me.id else { return }
        if requiresOperator {
            guard check(.depose(cell: cell, term: term), signature: signature) == nil else {
                trust.stats.ordersRefused += 1
                return
            }
            deposeSelf(reason: "deposed by an operator")
            return
        }
        guard table[from]?.member.status.isLive == true, !isGraylisted(from),
            verified(signature, of: SignedClaim.depose(cell: cell, term: term, by: from), origin: from, blame: blame)
        else { return }
        deposeSelf(reason: "deposed by \(table[from]?.member.name ?? from.description)")
    }

    /// The term of the reign in `cell` as this node knows it.
    func reignTerm(of cell: CellID) -> UInt64? {
        if cell == hive.cell, hive.role == .queen || hive.queen != nil { return hive.term }
        if let c = hive.cells[cell], !c.dissolved { return c.term }
        return nil
    }

    mutating func deposeSelf(reason: String) {
        guard hive.role == .queen, let roster = hive.roster else { return }
        hive.sitOutUntil = now + settings.hive.electionTimeoutMax * 10
        // A cell of one or two cannot elect without her: it ends instead.
        abdicate(dissolve: roster.count <= 2, reason: reason)
    }

    // MARK: Breeding and merging

    /// A full cell breeds: the queen picks the eligible worker that best splits her cell by
    /// coordinates (the two halves nearest their queens), and removes about half her voters
    /// one at a time, the designate last; each removed voter is sent to the new cell, whose
    /// members elect the designate (she campaigns as soon as she arrives; the others wait
    /// a maximum election timeout first).
    mutating func considerSplit() {
        guard hive.role == .queen, hive.reign.split == nil, let cell = hive.cell, let roster = hive.roster,
            roster.count >= max(4, settings.hive.cellHighWater), hive.reign.pending.isEmpty,
            hive.reign.committed == roster.version, roster.version.term == hive.term, holdsLease
        else { return }
        let fresh = settings.hive.heartbeatInterval * 3
        let mine = vivaldi.coordinate
        let workers = roster.voters.filter { $0.id != me.id }
        let eligible = workers.filter { v in
            table[v.id]?.member.status == .alive && !isGraylisted(v.id) && !isExcluded(v.id)
                && peerCoordinates[v.id] != nil
                && (hive.reign.acked[v.id].map { now - $0.at <= fresh } ?? false)
        }
        let half = roster.count / 2
        var best: (cost: Double, designate: Voter, voters: [Voter])?
        for d in eligible {
            let dc = peerCoordinates[d.id]!
            // The others by how much nearer the designate than us they are; the nearest half go.
            let ranked = workers.filter { $0 != d }.map { w -> (voter: Voter, toNew: Double, toOld: Double) in
                guard let c = peerCoordinates[w.id] else { return (w, 0, 0) }
                return (w, c.distance(to: dc), c.distance(to: mine))
            }.sorted { ($0.toNew - $0.toOld, $0.voter) < ($1.toNew - $1.toOld, $1.voter) }
            let moving = ranked.prefix(half - 1)
            let cost = moving.reduce(0) { $0 + $1.toNew } + ranked.dropFirst(half - 1).reduce(0) { $0 + $1.toOld }
            if best.map({ cost < $0.cost }) ?? true { best = (cost, d, [d] + moving.map(\.voter)) }
        }
        guard let best else { return }
        let newCell = CellID(hive.rng.next())
        hive.reign.split = Hive.Split(cell: newCell, designate: best.designate, voters: best.voters.sorted(), at: now)
        for v in best.voters where v != best.designate { queueChange(add: false, v) }
        queueChange(add: false, best.designate)
        emit(
            .hive(.splitting(cell: cell, newCell: newCell, designate: best.designate.id, voters: best.voters.map(\.id)))
        )
    }

    /// The split is over once its voters are off our roster and their cell is seen (or, if
    /// its claim never reaches us, after a few election timeouts).
    mutating func finishSplit() {
        guard let split = hive.reign.split, let roster = hive.roster else { return }
        let removed = !split.voters.contains(where: roster.contains) && hive.reign.committed == roster.version
        let seen = hive.cells[split.cell] != nil
        if removed && (seen || now - split.at > settings.hive.electionTimeoutMax * 4) {
            hive.reign.split = nil
        }
    }

    /// A worker sent to a new cell by its queen: it joins the new cell's roster (the same at
    /// every voter), and the designate campaigns at once.
    mutating func onBreed(
        cell: CellID, term: UInt64, newCell: CellID, designate: NodeID, voters: [Voter], signature: Signature?,
        from: NodeID, blame: NodeID?
    ) {
        guard cell == hive.cell, term == hive.term, hive.queen == from, from != me.id,
            hive.role == .worker || hive.role == .preCandidate, newCell != cell, hive.cells[newCell] == nil,
            voters.count <= settings.hive.cellHighWater, voters.contains(voter),
            voters.contains(where: { $0.id == designate }),
            verified(
                signature,
                of: SignedClaim.breed(
                    cell: cell, term: term, newCell: newCell, designate: designate, voters: voters, queen: from),
                origin: from, blame: blame)
        else { return }
        emit(.hive(.leftCell(cell: cell, reason: "bred into cell \(newCell)")))
        let roster = Roster(cell: newCell, version: RosterVersion(term: 0, index: 1), voters: voters)
        hive.serve(
            in: Hive.Seat(
                cell: newCell, term: 0, roster: roster, lastQueenAt: now,
                electionDeadline: hive.seat.electionDeadline))
        if designate == me.id {
            startElection()
        } else {
            armElection(at: now + settings.hive.electionTimeoutMax + hive.randomElectionTimeout(settings.hive))
        }
    }

    /// A cell below its low-water mark for `mergeAfter` dissolves when another cell at least
    /// its size (ties: the higher id, so two small cells do not both dissolve) has room for
    /// all its members; they enlist with the open cells nearest them. True if it dissolved.
    mutating func considerMerge() -> Bool {
        guard hive.role == .queen, hive.reign.split == nil, let cell = hive.cell, let roster = hive.roster else {
            return false
        }
        guard roster.count < settings.hive.lowWaterMark else {
            hive.reign.lowSince = nil
            return false
        }
        guard let since = hive.reign.lowSince else {
            hive.reign.lowSince = now
            return false
        }
        guard now - since >= settings.hive.mergeAfter else { return false }
        let size = UInt32(roster.count)
        let target = hive.cells.values.contains { c in
            c.cell != cell && c.open && !c.dissolved && c.queen != me.id && table[c.queen]?.member.status == .alive
                && (c.size > size || (c.size == size && c.cell > cell))
                && Int(c.size) + roster.count < settings.hive.cellHighWater
        }
        guard target else { return false }
        abdicate(dissolve: true, reason: "merging: the cell fell below its low-water mark")
        return true
    }
}
