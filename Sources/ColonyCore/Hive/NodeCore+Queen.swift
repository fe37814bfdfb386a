/// A queen's rule: lease heartbeats a majority acknowledges, one roster change at a time,
/// stepping down, and her claim to the swarm.
extension NodeCore {
    // MARK: Queens

    mutating func becomeQueen(founded: Bool) {
        guard var seat = hive.standing.seat else { return }
        let cell = seat.cell
        seat.queen = me.id
        seat.lastQueenAt = now
        var reign = Hive.Reign(electedAt: now)
        if founded { reign.committed = seat.roster.version }
        for v in seat.roster.voters where v.id != me.id { reign.acked[v.id] = (0, .zero, now) }
        if !founded {
            // Commit an entry of our own term before any roster change (Raft's no-op).
            seat.roster.version = RosterVersion(term: seat.term, index: seat.roster.version.index + 1)
            hive.stats.electionsWon += 1
        }
        hive.crown(in: seat, reign)
        emit(.hive(founded ? .founded(cell: cell, term: hive.term) : .elected(cell: cell, term: hive.term)))
        publishClaim()
        sendHeartbeatRound()
        armHeartbeat(at: now + settings.hive.heartbeatInterval)
    }

    mutating func onHeartbeatTick() {
        hive.heartbeatArmed = false
        guard hive.role == .queen, phase == .active, let roster = hive.roster else { return }
        // Check-quorum: without a majority-acknowledged round for `quorumTimeout`, workers are
        // probably electing someone else: step down. (The lease, which safety rests on, has
        // run out long before.)
        if roster.count > 1 {
            let lastQuorum = hive.reign.leaseUntil.map { $0 - settings.hive.lease } ?? hive.reign.electedAt
            if now - lastQuorum > max(settings.hive.quorumTimeout, settings.hive.electionTimeoutMin) {
                stepDown(reason: "lost quorum")
                return
            }
        }
        dropSilentVoters()
        finishSplit()
        if considerMerge() { return }
        considerSplit()
        applyNextChange()
        sendHeartbeatRound()
        let size = UInt32(hive.roster?.count ?? 0)
        let claimed = (at: hive.reign.claimedAt, size: hive.reign.claimedSize)
        let sizeMoved = abs(Int(size) - Int(claimed.size)) >= max(2, Int(claimed.size) / 4)
        let openChanged =
            (size < UInt32(settings.hive.cellHighWater)) != (claimed.size < UInt32(settings.hive.cellHighWater))
        if sizeMoved || openChanged
            || now - claimed.at >= settings.hive.claimRefresh
        {
            publishClaim()
        }
        armHeartbeat(at: now + settings.hive.heartbeatInterval)
    }

    mutating func sendHeartbeatRound() {
        guard hive.role == .queen, let cell = hive.cell, let roster = hive.roster else { return }
        hive.reign.round += 1
        let round = hive.reign.round
        hive.reign.roundSentAt[round] = now
        hive.reign.roundSentAt[round &- 64] = nil
        hive.stats.heartbeatsSent += 1
        let signature = sign(
            SignedClaim.heartbeat(cell: cell, term: hive.term, round: round, version: roster.version, queen: me.id))
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            let behind = (hive.reign.acked[v.id]?.version ?? .zero) < roster.version
            let message = Message.hive(
                .heartbeat(
                    cell: cell, term: hive.term, round: round, version: roster.version,
                    roster: behind ? roster.voters : nil, signature: signature))
            sendHive(message, to: m.peer)
        }
        // Voters just removed hear it at once (a split's hear where to go) rather than
        // waiting for their queen's silence; a split's removed voters hear it again every
        // other round until their new cell is seen.
        let farewell = hive.reign.farewell
        hive.reign.farewell = []
        let split = hive.reign.split
        for v in farewell {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            if let split, split.voters.contains(v) {
                sendBreed(split, cell: cell, to: m.peer)
            } else {
                sendHive(
                    .hive(
                        .heartbeat(
                            cell: cell, term: hive.term, round: round, version: roster.version, roster: roster.voters,
                            signature: signature)), to: m.peer)
            }
        }
        if let split, round % 2 == 0, hive.cells[split.cell] == nil {
            for v in split.voters where !roster.contains(v) && !farewell.contains(v) {
                guard let m = table[v.id]?.member, m.status.isLive else { continue }
                sendBreed(split, cell: cell, to: m.peer)
            }
        }
        onAcknowledgements()
    }

    mutating func sendBreed(_ split: Hive.Split, cell: CellID, to peer: Peer) {
        let signature = sign(
            SignedClaim.breed(
                cell: cell, term: hive.term, newCell: split.cell, designate: split.designate.id, voters: split.voters,
                queen: me.id))
        sendHive(
            .hive(
                .breed(
                    cell: cell, term: hive.term, newCell: split.cell, designate: split.designate.id,
                    voters: split.voters, signature: signature)), to: peer)
    }

    /// A hive message as a datagram, or a stream frame if it outgrew one (a large roster).
    mutating func sendHive(_ message: Message, to peer: Peer) {
        let packet = Packet(from: me.id, message: message)
        if Wire.size(of: packet) > settings.maxDatagramBytes {
            out.append(.send(packet, to: peer, via: .stream))
        } else {
            sendDatagram(message, to: peer)
        }
    }

    /// What a majority of the roster acknowledged (we acknowledge our own rounds and roster
    /// as we send them): the lease runs from that round; that roster is committed, and the
    /// next queued change may follow.
    mutating func onAcknowledgements() {
        guard hive.role == .queen, let roster = hive.roster else { return }
        hive.reign.extendLease(roster: roster, me: me.id, lease: settings.hive.lease)
        let committed = hive.reign.acknowledgedVersion(roster: roster, me: me.id)
        if committed >= roster.version && committed > hive.reign.committed {
            hive.reign.committed = roster.version
            if !hive.reign.pending.isEmpty, applyNextChange() { sendHeartbeatRound() }
        }
    }

    /// Apply the next queued roster change if the current roster is committed and of our
    /// own term (one voter at a time, Raft's single-server changes). True if one was applied.
    @discardableResult
    mutating func applyNextChange() -> Bool {
        guard hive.role == .queen, var roster = hive.roster, hive.reign.committed == roster.version,
            roster.version.term == hive.term
        else { return false }
        while !hive.reign.pending.isEmpty {
            let change = hive.reign.pending.removeFirst()
            if change.add {
                guard !roster.contains(change.voter), roster.count < settings.hive.cellHighWater else { continue }
                roster.insert(change.voter)
                hive.reign.acked[change.voter.id] = (0, .zero, now)
            } else {
                guard roster.contains(change.voter), change.voter.id != me.id else { continue }
                roster.remove(change.voter)
                hive.reign.acked[change.voter.id] = nil
                hive.reign.farewell.append(change.voter)
            }
            roster.version = RosterVersion(term: hive.term, index: roster.version.index + 1)
            hive.seat.roster = roster
            // A one-voter roster commits as it is made.
            if roster.count == 1 { hive.reign.committed = roster.version }
            return true
        }
        return false
    }

    mutating func queueChange(add: Bool, _ v: Voter) {
        guard !hive.reign.pending.contains(where: { $0.add == add && $0.voter == v }) else { return }
        hive.reign.pending.append((add, v))
    }

    /// Workers that are gone (dead, left, revoked) or silent for `workerTimeout` leave the roster.
    mutating func dropSilentVoters() {
        guard let roster = hive.roster else { return }
        let timeout = settings.hive.workerTimeout
        for v in roster.voters where v.id != me.id {
            // A voter we have not heard of yet (news of it still spreading) is not gone: it
            // goes only if it stays silent.
            let gone = table[v.id]?.member.status.isGone == true || isExcluded(v.id)
            let silent = hive.reign.acked[v.id].map { now - $0.at > timeout } ?? true
            if gone || silent { queueChange(add: false, v) }
        }
    }

    mutating func stepDown(reason: String) {
        guard hive.role == .queen, let cell = hive.cell else { return }
        hive.seat.queen = nil
        hive.seat.heardQueenAt = nil
        hive.seat.lastQueenAt = now
        hive.becomeWorker()
        emit(.hive(.steppedDown(cell: cell, term: hive.term, reason: reason)))
        armElection(at: now + hive.randomElectionTimeout(settings.hive))
    }

    mutating func publishClaim(dissolved: Bool = false) {
        guard let cell = hive.cell, let roster = hive.roster else { return }
        hive.claimSerial += 1
        let size = dissolved ? 0 : UInt32(roster.count)
        var claim = QueenClaim(
            cell: cell, term: hive.term, queen: me.id, address: me.address, serial: hive.claimSerial,
            size: size, open: !dissolved && roster.count < settings.hive.cellHighWater, coordinate: vivaldi.coordinate)
        claim.signature = sign(SignedClaim.queen(claim))
        hive.reign.claimedAt = now
        hive.reign.claimedSize = size
        var local = Inbound.local
        adopt(claim, &local)
    }

    /// Hold `c` as its cell's claim and spread it: down the queens' tree once the hive
    /// stands (see `BroadcastID.claim`). A claim that tells members outside any cell
    /// (joiners, the homeless) where to enlist — a new cell, a new queen, a cell that filled
    /// or opened — also goes by gossip, which reaches them. Refreshes, size changes and
    /// dissolutions only take the tree (and lazy push and grafts to the rest): the cell's own
    /// workers hear a dissolution from their queen, and one who enlists with a dissolved cell
    /// is refused and looks again.
    mutating func adopt(_ c: QueenClaim, _ inbound: inout Inbound) {
        let previous = hive.cells.updateValue(c, forKey: c.cell)
        enqueue(.queen(c), &inbound)
        let news = previous.map { $0.term < c.term || $0.open != c.open || $0.queen != c.queen } ?? true
        if routing && news && !c.dissolved {
            dissemination.queue.enqueue(.queen(c))
            armGossip()
        }
    }

    // MARK: Claims (news)

    /// To a joiner, with the join reply: every live cell's claim, so it enlists with one
    /// rather than founding its own before the next claim refresh reaches it.
    mutating func sendCells(to peer: Peer) {
        guard hiveOn else { return }
        let claims = hive.cells.keys.sorted().compactMap { c in
            hive.cells[c].flatMap { $0.dissolved ? nil : Update.queen($0) }
        }
        if !claims.isEmpty {
            out.append(.send(Packet(from: me.id, message: .gossip, updates: claims), to: peer, via: .stream))
        }
    }

    mutating func applyQueenClaim(_ c: QueenClaim, _ inbound: inout Inbound) {
        guard c.term < maxCounter, c.serial < maxCounter, c.coordinate.isValid else {
            replicated.stats.recordsInvalid += 1
            inbound.learned = .invalid
            return
        }
        if let old = hive.cells[c.cell], !c.supersedes(old) {
            dissemination.stats.redundantUpdates += 1
            return
        }
        guard c.queen != me.id || hive.cells[c.cell] == nil else {
            // Our own claim, older than what we hold (we are its only author).
            dissemination.stats.redundantUpdates += 1
            return
        }
        guard verified(c.signature, of: SignedClaim.queen(c), origin: c.queen, blame: inbound.sender) else { return }
        adopt(c, &inbound)
        if c.dissolved, c.cell == hive.cell, c.term >= hive.term, hive.role != .queen {
            // Our queen dissolved the cell and her abdication did not reach us.
            leaveCell(reason: "the queen dissolved the cell", notify: false)
        }
    }
}
