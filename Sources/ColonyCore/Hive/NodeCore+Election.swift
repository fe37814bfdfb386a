/// Elections (Raft §5.2 with pre-vote and check-quorum, thesis §9.6) and who belongs to a
/// cell: enlisting, leaving, abdicating.
extension NodeCore {
    // MARK: Elections

    mutating func onElectionTick() {
        hive.electionArmed = false
        guard hiveOn, phase == .active, let deadline = hive.standing.seat?.electionDeadline,
            [.worker, .preCandidate, .candidate].contains(hive.role)
        else { return }
        if now < deadline {
            armElection(at: deadline)
            return
        }
        if now - hive.seat.lastQueenAt > settings.hive.abandonAfter {
            // No queen for this long: the cell's majority is gone (or we are cut off).
            leaveCell(reason: "no queen", notify: true)
            return
        }
        guard eligibleForQueen, let roster = hive.roster, roster.contains(voter) else {
            hive.becomeWorker()
            armElection(at: now + hive.randomElectionTimeout(settings.hive))
            return
        }
        // Pre-vote (Raft thesis §9.6): ask without raising the term, so a member cut off
        // from its cell cannot force a healthy cell into a new election.
        hive.campaign(pre: true, me: me.id)
        armElection(at: now + hive.randomElectionTimeout(settings.hive))
        if roster.majority <= 1 {
            startElection()
            return
        }
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            sendDatagram(
                .hive(.preVote(cell: roster.cell, term: hive.term + 1, version: roster.version, boot: boot)), to: m.peer
            )
        }
    }

    mutating func startElection() {
        guard let roster = hive.roster, let cell = hive.cell else { return }
        hive.seat.term += 1
        hive.seat.queen = nil
        hive.campaign(pre: false, me: me.id)
        hive.noteVote(cell: cell, term: hive.term, candidate: me.id)
        hive.stats.electionsStarted += 1
        armElection(at: now + hive.randomElectionTimeout(settings.hive))
        if roster.majority <= 1 {
            becomeQueen(founded: false)
            return
        }
        let signature = sign(
            SignedClaim.requestVote(cell: cell, term: hive.term, candidate: me.id, version: roster.version))
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            sendDatagram(
                .hive(
                    .requestVote(cell: cell, term: hive.term, version: roster.version, boot: boot, signature: signature)
                ), to: m.peer)
        }
    }

    mutating func onRequestVote(
        cell: CellID, term: UInt64, version: RosterVersion, candidate: Voter, signature: Signature?, peer: Peer,
        blame: NodeID?
    ) {
        guard cell == hive.cell, let roster = hive.roster, roster.contains(candidate) else { return }
        guard
            verified(
                signature,
                of: SignedClaim.requestVote(cell: cell, term: term, candidate: candidate.id, version: version),
                origin: candidate.id, blame: blame)
        else { return }
        // Within the stickiness window (or holding the lease) the request is ignored outright,
        // its term included (Raft thesis §4.2.3): a removed or cut-off member cannot disrupt.
        var granted = false
        if !hive.queenRecentlyHeard(now: now, settings.hive) && !holdsLease {
            if term > hive.term {
                hive.seat.term = term
                if hive.role == .queen { stepDown(reason: "a newer term") }
                if hive.role == .candidate || hive.role == .preCandidate { hive.becomeWorker() }
                hive.seat.queen = nil
            }
            if term == hive.term, hive.mayVote(cell: cell, term: term, for: candidate.id),
                version >= roster.version, !isGraylisted(candidate.id)
            {
                granted = true
                hive.noteVote(cell: cell, term: term, candidate: candidate.id)
                armElection(at: now + hive.randomElectionTimeout(settings.hive))
            }
        }
        let signatureOut = sign(
            SignedClaim.vote(cell: cell, term: hive.term, candidate: candidate.id, voter: me.id, granted: granted))
        sendDatagram(
            .hive(
                .vote(
                    cell: cell, term: hive.term, candidate: candidate.id, granted: granted, boot: boot,
                    signature: signatureOut)), to: peer)
    }

    mutating func onVote(
        cell: CellID, term: UInt64, candidate: NodeID, granted: Bool, voter v: Voter, signature: Signature?,
        blame: NodeID?
    ) {
        guard cell == hive.cell, candidate == me.id, let roster = hive.roster else { return }
        if term > hive.term {
            hive.seat.term = term
            if hive.role == .queen { stepDown(reason: "a newer term") } else { hive.becomeWorker() }
            return
        }
        guard hive.role == .candidate, term == hive.term, granted, roster.contains(v),
            verified(
                signature,
                of: SignedClaim.vote(cell: cell, term: term, candidate: candidate, voter: v.id, granted: granted),
                origin: v.id, blame: blame)
        else { return }
        if hive.count(vote: v.id) >= roster.majority { becomeQueen(founded: false) }
    }

    // MARK: Membership of cells

    mutating func onEnlist(cell: CellID, voter v: Voter, peer: Peer) {
        guard hive.role == .queen, cell == hive.cell, let roster = hive.roster else {
            // Not (or no longer) that cell's queen: say so, so the member tries another.
            sendDatagram(.hive(.enlisted(cell: cell, term: 0, accepted: false)), to: peer)
            return
        }
        let live = table[v.id]?.member.status == .alive && !isExcluded(v.id)
        let adds = hive.reign.pending.filter(\.add).count
        var accepted =
            live && phase == .active && (roster.contains(v) || roster.count + adds < settings.hive.cellHighWater)
        if accepted {
            if roster.contains(v) {
                // Lost our first heartbeat: send the roster again.
                hive.reign.acked[v.id] = (hive.reign.acked[v.id]?.round ?? 0, .zero, now)
            } else {
                if let old = roster.voter(for: v.id) {
                    if old.boot > v.boot { accepted = false } else { queueChange(add: false, old) }
                }
                if accepted {
                    queueChange(add: true, v)
                    if applyNextChange() { sendHeartbeatRound() }
                }
            }
        }
        sendDatagram(.hive(.enlisted(cell: cell, term: hive.term, accepted: accepted)), to: peer)
    }

    /// Leave the cell (telling the queen if `notify`), and look for another.
    mutating func leaveCell(reason: String, notify: Bool) {
        guard let cell = hive.cell else { return }
        if hive.role == .queen {
            stepDown(reason: reason)
        }
        if notify, let q = hive.queen, let m = table[q]?.member, m.status.isLive {
            sendDatagram(.hive(.release(cell: cell, boot: boot)), to: m.peer)
        }
        hive.becomeHomeless()
        emit(.hive(.leftCell(cell: cell, reason: reason)))
        // Look for a cell soon (spread, as a dissolved cell's members all leave at once).
        if phase == .active { armHome(at: now + hive.rng.duration(below: settings.hive.homeInterval / 20)) }
    }

    /// Leaving the swarm: a queen hands over at once; a worker tells its queen.
    mutating func hiveLeave() {
        guard hiveOn, hive.cell != nil else { return }
        if hive.role == .queen, let roster = hive.roster {
            abdicate(dissolve: roster.count <= 2, reason: "leaving the swarm")
        } else {
            leaveCell(reason: "leaving the swarm", notify: true)
        }
    }

    /// As queen, step down at once and leave the cell: its voters elect a successor without
    /// waiting out the lease, or with `dissolve` the cell ends and they enlist elsewhere.
    mutating func abdicate(dissolve: Bool, reason: String) {
        guard hive.role == .queen, let cell = hive.cell, let roster = hive.roster else { return }
        hive.reign.leaseUntil = nil
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            sendDatagram(.hive(.abdicate(cell: cell, term: hive.term, dissolve: dissolve)), to: m.peer)
        }
        if dissolve { publishClaim(dissolved: true) }
        leaveCell(reason: reason, notify: false)
    }
}
