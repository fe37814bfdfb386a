import HashTreeCollections

/// Applying membership news: the ordering rules of docs/design.md §2, refutation, suspicion and
/// death. Every path either changes the table (and re-broadcasts the news) or changes
/// nothing and counts a redundant update — receivers are idempotent.
extension NodeCore {
    /// Apply one update (news from a packet, or our own) and say what it taught us.
    @discardableResult
    mutating func apply(_ update: Update, _ inbound: inout Inbound) -> Learned {
        inbound.learned = .redundant
        // Incarnations at or past the protocol's ceiling never get here: the inbound gate
        // refuses their packet (WireBounds); leaps towards it are ruled implausible.
        switch update {
        case .alive(let m):
            applyAlive(m, &inbound)
        case .suspect(let id, let inc, let from):
            applySuspect(id: id, incarnation: inc, from: from, &inbound)
        case .dead(let id, let inc, let from):
            applyDead(id: id, incarnation: inc, from: from, left: false, &inbound)
        case .left(let id, let inc, let sig):
            applyDead(id: id, incarnation: inc, from: id, left: true, signature: sig, &inbound)
        case .record(let r):
            applyRecord(r, &inbound)
        case .event(let e):
            applyEvent(e, replayed: false, &inbound)
        case .query(let q):
            applyQuery(q, &inbound)
        case .queen(let c):
            applyQueenClaim(c, &inbound)
        }
        return inbound.learned
    }

    /// Merge a peer's table from a stream exchange (memberlist `mergeState`): a remote
    /// "dead" verdict becomes suspicion here, so the member gets a chance to refute — this
    /// is what lets a healed partition come back together.
    mutating func mergeRemote(_ members: [Member], from sender: NodeID, _ inbound: inout Inbound) {
        for m in members {
            switch m.status {
            case .alive:
                applyAlive(m, &inbound)
            case .suspect, .dead:
                // The peer's table is no independent witness: its suspicion may be the echo of
                // ours (heard from us by gossip), so it starts one here but confirms none.
                applySuspect(id: m.id, incarnation: m.incarnation, from: sender, confirms: false, &inbound)
            case .left:
                applyDead(
                    id: m.id, incarnation: m.incarnation, from: m.id, left: true, signature: m.signature, &inbound)
            }
        }
    }

    mutating func applyAlive(_ m: Member, _ inbound: inout Inbound) {
        // Only news is checked (a repeat costs no signature check), and only the member
        // itself can sign its alive claim; a forged claim about us is ignored, not refuted.
        if authenticates, membership.isNews(alive: m) {
            if !verified(m.signature, of: SignedClaim.alive(m), origin: m.id, blame: inbound.sender) { return }
            if m.id != me.id && !admitted(m) { return }
        }
        if m.id != me.id && isExcluded(m.id) {
            trust.stats.revokedRefused += 1
            holdBack(m)
            return
        }
        switch membership.ruling(alive: m) {
        case .refute:
            refute(claimed: m.incarnation)
        case .redundant:
            dissemination.stats.redundantUpdates += 1
        case .unsupportedVersion:
            membership.stats.unsupportedVersion += 1
        case .implausible:
            membership.stats.implausibleIncarnations += 1
            inbound.learned = .invalid
        case .adopt(let updated, let previous):
            if let previous, holdsRevival(of: m, previous: previous) { return }
            set(updated, previous: previous)
            enqueue(.alive(updated), &inbound)
        case .unknown, .confirm:
            preconditionFailure("an alive claim is never ruled \(membership.ruling(alive: m))")
        }
    }

    mutating func applySuspect(
        id: NodeID, incarnation: UInt64, from: NodeID, evidenceSince: Instant? = nil, confirms: Bool = true,
        _ inbound: inout Inbound
    ) {
        switch membership.ruling(suspect: id, incarnation: incarnation) {
        case .refute:
            if phase == .leaving || phase == .left { return }
            refute(claimed: incarnation)
        case .unknown, .unsupportedVersion:
            return
        case .implausible:
            membership.stats.implausibleIncarnations += 1
            inbound.learned = .invalid
        case .redundant:
            dissemination.stats.redundantUpdates += 1
        case .confirm:
            // An independent confirmation shrinks the timeout (Lifeguard §IV.B).
            if confirms, var s = membership.suspicions[id], s.incarnation == incarnation, s.confirm(from: from) {
                membership.suspicions[id] = s
                timers.schedule(.membership(.suspicion(id, incarnation)), at: max(now, s.deadline))
                enqueue(.suspect(id: id, incarnation: incarnation, from: from), &inbound)
                return
            }
            dissemination.stats.redundantUpdates += 1
        case .adopt(let updated, let previous):
            raiseSuspicion(updated, previous: previous, from: from, evidenceSince: evidenceSince, &inbound)
        }
    }

    /// A member becomes suspect: tell the swarm, tell the suspect, and start the timer.
    private mutating func raiseSuspicion(
        _ updated: Member, previous: Member?, from: NodeID, evidenceSince: Instant?, _ inbound: inout Inbound
    ) {
        let (id, incarnation) = (updated.id, updated.incarnation)
        set(updated, previous: previous)
        membership.stats.suspicionsRaised += 1
        enqueue(.suspect(id: id, incarnation: incarnation, from: from), &inbound)
        let n = table.liveCount
        // Tell the suspect itself, so it refutes at once instead of when gossip happens to
        // pick it: the member whose probe failed, and about three others across the swarm
        // (a sick member's suspicion confirmed by another's echo ran out before the suspect
        // heard of it: simulator, flip-flop, issue 17).
        if from == me.id || rng.below(max(1, n)) < 3 {
            sendDatagram(.gossip, to: updated.peer, first: [.suspect(id: id, incarnation: incarnation, from: from)])
            membership.stats.suspectsNotified += 1
        }
        let s = Membership.suspicion(
            incarnation: incarnation, from: from, startedAt: min(now, evidenceSince ?? now), members: n,
            settings: settings)
        membership.suspicions[id] = s
        timers.schedule(.membership(.suspicion(id, incarnation)), at: s.deadline)
    }

    mutating func onSuspicionTimeout(id: NodeID, incarnation: UInt64, late: Bool = false) {
        guard let s = membership.suspicions[id], s.incarnation == incarnation, s.deadline <= now else { return }
        if late {
            // Stalled: a refutation may be waiting unread. Judge again after reading input.
            membership.awareness.apply(1)
            membership.stats.lateVerdictsDeferred += 1
            timers.schedule(.membership(.suspicion(id, incarnation)), at: now + settings.probeInterval)
            return
        }
        guard let r = table[id], r.member.status == .suspect, r.member.incarnation == incarnation else {
            membership.suspicions[id] = nil
            return
        }
        if s.confirmations == 0, s.expectedConfirmations > 0, !healthyEnoughToConvictAlone {
            // Most of our own probes go unanswered: we are probably the one cut off. No lone
            // verdict; a confirmation (`applySuspect`) brings the timer back at once.
            membership.stats.loneVerdictsWithheld += 1
            return
        }
        var local = Inbound.local
        applyDead(id: id, incarnation: incarnation, from: me.id, left: false, &local)
    }

    /// Whether this node may declare a death on its own evidence: most of its direct probes are
    /// answered, and its Lifeguard health multiplier is below half its range (a node that
    /// misses nacks and refutes suspicions of itself probes slowly, so its probe record
    /// alone lags behind).
    var healthyEnoughToConvictAlone: Bool {
        let awareness = membership.awareness
        return membership.probeRecord.success >= settings.loneVerdictMinHealth && 2 * awareness.score < awareness.max
    }

    mutating func applyDead(
        id: NodeID, incarnation: UInt64, from: NodeID, left: Bool, signature: Signature? = nil, _ inbound: inout Inbound
    ) {
        if left, authenticates {
            let current = id == me.id ? me : table[id]?.member
            if let current,
                incarnation > current.incarnation || (incarnation == current.incarnation && current.status != .left),
                !verified(
                    signature, of: SignedClaim.left(id: id, incarnation: incarnation), origin: id, blame: inbound.sender
                )
            {
                return
            }
        }
        switch membership.ruling(dead: id, incarnation: incarnation, left: left, signature: signature) {
        case .refute:
            if phase == .leaving || phase == .left { return }
            refute(claimed: incarnation)
        case .unknown, .unsupportedVersion, .confirm:
            return
        case .implausible:
            membership.stats.implausibleIncarnations += 1
            inbound.learned = .invalid
        case .redundant:
            dissemination.stats.redundantUpdates += 1
        case .adopt(let updated, let previous):
            set(updated, previous: previous)
            if !left { membership.stats.membersDeclaredDead += 1 }
            enqueue(
                left
                    ? .left(id: id, incarnation: incarnation, signature: signature)
                    : .dead(id: id, incarnation: incarnation, from: from), &inbound)
        }
    }

    /// Answer a claim about us with a strictly higher incarnation. Having to refute means
    /// others could not hear from us in time, so our health multiplier goes up (Lifeguard).
    mutating func refute(claimed: UInt64) {
        membership.me.incarnation = max(membership.me.incarnation, claimed) + 1
        signMe()
        membership.table.upsert(me, at: now)
        membership.stats.refutations += 1
        membership.awareness.apply(1)
        out.append(.persist(.incarnation(me.incarnation)))
        var local = Inbound.local
        enqueue(.alive(me), &local)
    }

    /// Record a member's new state, keep side structures in step, and emit the change.
    mutating func set(_ member: Member, previous: Member?) {
        membership.table.upsert(member, at: now)
        membership.addressIndex[member.address] = member.id
        membership.forcedLeft.remove(member.id)
        if member.status != .suspect { membership.suspicions[member.id] = nil }
        if member.status.isGone {
            membership.gone[member.id] = now
        } else if previous?.status.isGone == true {
            membership.gone[member.id] = nil
            if previous?.status == .dead { noteRevival(of: member.id) }
        }
        if member.status != .dead, membership.holds[member.id] != nil { dropHold(member.id) }
        out.append(.persist(.member(member, previous: previous)))
        emit(.memberChanged(member, previous: previous))
    }

    mutating func enqueue(_ update: Update, _ inbound: inout Inbound) {
        inbound.learned = .fresh
        if routeInstead(update, &inbound) { return }
        dissemination.queue.enqueue(update)
        armGossip()
    }

    mutating func armGossip() {
        if !dissemination.gossipArmed {
            dissemination.gossipArmed = true
            timers.schedule(.dissemination(.gossip), at: now + settings.gossipInterval)
        }
    }
}
