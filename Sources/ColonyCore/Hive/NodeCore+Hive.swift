/// Cells and queens (docs/design.md §5; the protocol is described in Cell.swift).
///
/// A member outside any cell enlists with the nearest queen that has room, or — when no
/// cell is open and the swarm is large enough — founds one after a random delay (so few
/// found at once while claims spread). Workers hear their queen's heartbeat every
/// `heartbeatInterval`; a worker that misses it for a randomised election timeout asks for
/// pre-votes, then votes. A queen renews her lease from acknowledged rounds and steps down
/// when a majority stops answering (check-quorum). She changes the roster one voter at a
/// time and announces her cell to the swarm with a signed claim.
extension NodeCore {
    var hiveOn: Bool { settings.hive.enabled }
    public var voter: Voter { Voter(id: me.id, boot: boot) }

    // MARK: Timers

    mutating func startHive() {
        guard hiveOn else { return }
        armHome(at: now + hive.rng.duration(below: settings.hive.homeInterval))
    }

    /// Look for a cell (or, as a worker, for a nearer one) at `t`, or earlier if so armed
    /// already (a timer it supersedes fires to no effect).
    mutating func armHome(at t: Instant) {
        if let at = hive.homeAt, at <= t { return }
        hive.homeAt = t
        timers.schedule(.hive(.home), at: t)
    }

    mutating func armElection(at deadline: Instant) {
        hive.seat.electionDeadline = deadline
        guard !hive.electionArmed else { return }
        hive.electionArmed = true
        timers.schedule(.hive(.election), at: deadline)
    }

    mutating func armHeartbeat(at t: Instant) {
        guard !hive.heartbeatArmed else { return }
        hive.heartbeatArmed = true
        timers.schedule(.hive(.heartbeat), at: t)
    }

    /// Healthy, old enough and not leaving: fit to found a cell or stand for election.
    var eligibleForQueen: Bool {
        phase == .active && membership.awareness.score == 0
            && now - hive.bootedAt >= settings.hive.minimumUptime
            && (hive.sitOutUntil.map { now >= $0 } ?? true) && !isExcluded(me.id)
    }

    /// Queen only: the lease is held now (`Hive.holdsLease`).
    public var holdsLease: Bool { hive.holdsLease(now: now) }

    // MARK: Messages

    mutating func onHive(_ message: HiveMessage, from sender: Peer, blame: NodeID?) {
        guard hiveOn, let from = sender.id else { return }
        // Every hive message speaks for its sender (a vote, an ack, a release): one naming a
        // member we know counts only from that member's own host (`blame` is that member then,
        // nil otherwise). A stranger's speaks for nobody any handler trusts (rosters, votes
        // and enlistment all require a known live member).
        guard blame == from || table[from] == nil else {
            hive.stats.unattributedRefused += 1
            return
        }
        switch message {
        case .heartbeat(let cell, let term, let round, let version, let voters, let signature):
            onHeartbeat(
                cell: cell, term: term, round: round, version: version, voters: voters, signature: signature,
                from: from, peer: sender, blame: blame)
        case .heartbeatAck(let cell, let term, let round, let version, let boot, let coordinate):
            onHeartbeatAck(
                cell: cell, term: term, round: round, version: version, voter: Voter(id: from, boot: boot),
                coordinate: coordinate)
        case .depose(let cell, let term, let signature):
            onDepose(cell: cell, term: term, signature: signature, from: from, blame: blame)
        case .accuse(let cell, let accusation):
            onAccuse(cell: cell, accusation: accusation, from: from, blame: blame)
        case .lift(_, let evicted, let signature):
            onLift(evicted: evicted, signature: signature, from: from, blame: blame)
        case .pledge(let cell, let term, let queen, let boot, let atMs, let signature):
            onPledge(
                cell: cell, term: term, queen: queen, voter: Voter(id: from, boot: boot), atMs: atMs,
                signature: signature, blame: blame)
        case .breed(let cell, let term, let newCell, let designate, let voters, let signature):
            onBreed(
                cell: cell, term: term, newCell: newCell, designate: designate, voters: voters, signature: signature,
                from: from, blame: blame)
        case .preVote(let cell, let term, let version, let boot):
            let granted = hive.wouldVote(
                cell: cell, term: term, version: version, candidate: Voter(id: from, boot: boot),
                graylisted: isGraylisted(from), now: now, settings.hive)
            sendDatagram(.hive(.preVoteReply(cell: cell, term: term, granted: granted)), to: sender)
        case .preVoteReply(let cell, let term, let granted):
            guard granted, hive.role == .preCandidate, cell == hive.cell, term == hive.term + 1,
                let roster = hive.roster, roster.voter(for: from) != nil
            else { return }
            if hive.count(vote: from) >= roster.majority { startElection() }
        case .requestVote(let cell, let term, let version, let boot, let signature):
            onRequestVote(
                cell: cell, term: term, version: version, candidate: Voter(id: from, boot: boot), signature: signature,
                peer: sender, blame: blame)
        case .vote(let cell, let term, let candidate, let granted, let boot, let signature):
            onVote(
                cell: cell, term: term, candidate: candidate, granted: granted, voter: Voter(id: from, boot: boot),
                signature: signature, blame: blame)
        case .enlist(let cell, let boot):
            onEnlist(cell: cell, voter: Voter(id: from, boot: boot), peer: sender)
        case .enlisted(let cell, _, let accepted):
            guard hive.role == .homeless, hive.enlisting?.cell == cell else { return }
            if !accepted {
                hive.refusedBy[cell] = now
                hive.enlisting = nil
                // Try the next nearest now rather than at the next look.
                armHome(at: now + settings.hive.heartbeatInterval / 2)
            }
        case .release(let cell, let boot):
            guard hive.role == .queen, cell == hive.cell else { return }
            let v = Voter(id: from, boot: boot)
            if hive.roster?.contains(v) == true {
                queueChange(add: false, v)
                if applyNextChange() { sendHeartbeatRound() }
            }
        case .abdicate(let cell, let term, let dissolve):
            guard cell == hive.cell, term >= hive.term, hive.queen == from, hive.role != .queen else { return }
            if dissolve {
                leaveCell(reason: "the queen dissolved the cell", notify: false)
            } else {
                hive.seat.queen = nil
                hive.seat.heardQueenAt = nil
                armElection(at: now + hive.randomElectionTimeout(settings.hive) / 4)
            }
        }
    }

    /// A queen of our cell is a voter of our roster, or of the newer one her heartbeat sends.
    func mayLeadOurCell(_ from: NodeID, voters: [Voter]?, version: RosterVersion) -> Bool {
        if hive.roster?.voter(for: from) != nil { return true }
        guard let voters, hive.roster.map({ version > $0.version }) ?? true else { return false }
        return voters.contains { $0.id == from }
    }

    mutating func onHeartbeat(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, voters: [Voter]?, signature: Signature?,
        from: NodeID, peer: Peer, blame: NodeID?
    ) {
        if cell != hive.cell {
            // A queen admitting us (we asked), or one that still counts us: tell her we left.
            // Only a voter of the roster it sends can be its queen.
            guard let voters, voters.contains(voter), voters.contains(where: { $0.id == from }) else { return }
            if hive.role == .homeless, hive.enlisting?.cell == cell {
                guard
                    verified(
                        signature,
                        of: SignedClaim.heartbeat(cell: cell, term: term, round: round, version: version, queen: from),
                        origin: from, blame: blame)
                else { return }
                // Joining in `term`, whose queen is `from`: count it as our vote, so we cannot
                // help elect anyone else in a term we may already have voted in.
                hive.noteVote(cell: cell, term: term, candidate: from)
                hive.refusedBy = [:]
                let roster = Roster(cell: cell, version: version, voters: voters)
                hive.serve(in: Hive.Seat(cell: cell, term: term, roster: roster, lastQueenAt: now))
            } else {
                sendDatagram(.hive(.release(cell: cell, boot: boot)), to: peer)
                return
            }
        } else {
            guard
                verified(
                    signature,
                    of: SignedClaim.heartbeat(cell: cell, term: term, round: round, version: version, queen: from),
                    origin: from, blame: blame)
            else { return }
            guard mayLeadOurCell(from, voters: voters, version: version) else {
                hive.stats.unattributedRefused += 1
                return
            }
            if term < hive.term {
                sendDatagram(
                    .hive(
                        .heartbeatAck(
                            cell: cell, term: hive.term, round: round, version: hive.roster?.version ?? .zero,
                            boot: boot, coordinate: nil)), to: peer)
                return
            }
            if term > hive.term {
                hive.seat.term = term
            }
            if hive.role == .queen {
                // Only another term's queen can reach here (one queen per term).
                stepDown(reason: "a newer queen")
            }
            if let voters, let roster = hive.roster, version > roster.version {
                hive.seat.roster = Roster(cell: cell, version: version, voters: voters)
            }
        }
        serveQueen(from, of: cell, round: round, peer: peer)
    }

    /// A heartbeat of our cell's queen was taken: serve her, and acknowledge it.
    mutating func serveQueen(_ from: NodeID, of cell: CellID, round: UInt64, peer: Peer) {
        // (Just admitted, we have no queen yet.)
        let accepted = hive.queen != from
        hive.becomeWorker()
        hive.seat.queen = from
        hive.seat.heardQueenAt = now
        hive.seat.lastQueenAt = now
        if !hive.seat.roster.contains(voter) {
            leaveCell(reason: "removed from the roster", notify: false)
            return
        }
        armElection(at: now + hive.randomElectionTimeout(settings.hive))
        if accepted {
            emit(.hive(.accepted(cell: cell, term: hive.term, queen: from)))
            // Broadcasts pushed while we had no queen (an election, a split, re-homing) reached
            // us only if lazy push did: catch up with the new queen at once instead of waiting
            // for anti-entropy to pick her.
            startStateSync(with: peer)
        }
        // Our coordinate now and then (about once a second), and on accepting a queen: she
        // splits her cell by them.
        let coordinate = accepted || round % 20 == 1 ? vivaldi.coordinate : nil
        sendDatagram(
            .hive(
                .heartbeatAck(
                    cell: cell, term: hive.term, round: round, version: hive.seat.roster.version, boot: boot,
                    coordinate: coordinate)), to: peer)
        pledgeIfDue(to: from, of: cell, peer: peer)
    }

    /// Our pledge to the queen we serve (`Pledge`): freshly signed and sent with the first
    /// few acknowledgements, then every `Pledge.refreshMs`.
    mutating func pledgeIfDue(to queen: NodeID, of cell: CellID, peer: Peer) {
        let term = hive.term
        let ms = wallMs
        if hive.seat.pledge.map({ $0.term != term || $0.queen != queen }) ?? true {
            hive.seat.pledge = (term, queen, 0, 0)
        }
        guard let p = hive.seat.pledge, p.sent < Pledge.initialPledges || ms >= p.lastMs &+ Pledge.refreshMs else {
            return
        }
        hive.seat.pledge = (term, queen, p.sent + 1, ms)
        let signature = sign(
            SignedClaim.pledge(cell: cell, term: term, queen: queen, member: me.id, boot: boot, atMs: ms))
        sendDatagram(
            .hive(.pledge(cell: cell, term: term, queen: queen, boot: boot, atMs: ms, signature: signature)), to: peer)
    }

    /// A worker's pledge to us: the newest kept for this term, once its signature checks.
    mutating func onPledge(
        cell: CellID, term: UInt64, queen: NodeID, voter v: Voter, atMs: UInt64, signature: Signature?,
        blame: NodeID?
    ) {
        guard hive.role == .queen, cell == hive.cell, term == hive.term, queen == me.id,
            let roster = hive.roster, roster.contains(v), atMs <= wallMs &+ Eviction.accusationSkewMs,
            atMs > hive.reign.pledges[v.id]?.atMs ?? 0
        else { return }
        let claim = SignedClaim.pledge(cell: cell, term: term, queen: queen, member: v.id, boot: v.boot, atMs: atMs)
        guard verified(signature, of: claim, origin: v.id, blame: blame) else { return }
        // Bounded by the roster: those of voters gone are dropped once they outnumber it.
        if hive.reign.pledges.count > 2 * roster.count {
            hive.reign.pledges = hive.reign.pledges.filter { roster.voter(for: $0.key) != nil }
        }
        hive.reign.pledges[v.id] = Pledge(boot: v.boot, atMs: atMs, signature: signature)
    }

    mutating func onHeartbeatAck(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, voter v: Voter, coordinate: Coordinate?
    ) {
        guard hive.role == .queen, cell == hive.cell else { return }
        if term > hive.term {
            hive.seat.term = term
            stepDown(reason: "a newer term")
            return
        }
        guard term == hive.term, hive.roster?.contains(v) == true, round <= hive.reign.round else { return }
        let old = hive.reign.acked[v.id]
        hive.reign.acked[v.id] = (max(round, old?.round ?? 0), max(version, old?.version ?? .zero), now)
        if let coordinate, coordinate.isValid, coordinate.vec.count == Coordinate.dimensions {
            hive.peerCoordinates[v.id] = coordinate
        }
        onAcknowledgements()
    }
}
