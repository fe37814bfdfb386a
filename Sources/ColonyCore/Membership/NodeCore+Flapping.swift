/// Flap damping (Colony addition, issue 17; the idea is BGP route-flap damping, RFC 2439):
/// a member that keeps coming back from the dead is not readmitted at once.
///
/// Under a flip-flop fault (a host whose inbound path fails for 20 s, works for 20 s, and so
/// on, as in the Rapid paper) SWIM declares the host dead in each bad phase and readmits it
/// when its refutation arrives in each good one, so every observer's view changes twice per
/// cycle, and so does every cell and route built on it. Here a member that has come back
/// `flapThreshold` times within `flapWindow` has its next comeback held: it stays dead for
/// `flapHold`, then this node pings it directly, and readmits it only when it answers. A
/// host whose inbound path is down in that moment answers nothing and stays out for another
/// hold. A single crash and restart, or one partition healing, is one comeback and is never
/// held; nothing changes the verdict on a live member, so detection stays as fast.
extension NodeCore {
    /// A member held dead after too many comebacks, and the claim it came back with.
    struct RevivalHold: Sendable {
        /// The newest alive claim heard from or about it while held.
        var claim: Member
        /// Confirming pings sent in this round (up to `flapConfirmPings`).
        var pings = 0
    }

    /// Pings that may confirm a held comeback, one probe timeout apart: a single lost
    /// datagram must not cost another whole hold.
    static var flapConfirmPings: Int { 3 }

    /// Whether `m`'s alive claim, which supersedes our verdict that it is dead, should be
    /// held rather than applied; if so, it is held (and the hold's timer armed).
    mutating func holdsRevival(of m: Member, previous: Member) -> Bool {
        guard previous.status == .dead, settings.flapThreshold > 0 else { return false }
        if var hold = membership.holds[m.id] {
            if m.incarnation > hold.claim.incarnation {
                hold.claim = m
                membership.holds[m.id] = hold
            }
            membership.stats.revivalsHeld += 1
            return true
        }
        guard recentRevivals(of: m.id).count >= settings.flapThreshold else { return false }
        membership.holds[m.id] = RevivalHold(claim: m)
        membership.stats.revivalsHeld += 1
        timers.schedule(.membership(.revivalHold(m.id)), at: now + settings.flapHold)
        return true
    }

    /// The hold ran out (or a confirming ping went unanswered): ping the member, or, when
    /// this round's pings are spent, hold it again.
    mutating func onRevivalHold(_ id: NodeID) {
        guard var hold = membership.holds[id] else { return }
        guard phase == .active, let r = table[id], r.member.status == .dead,
            hold.claim.incarnation > r.member.incarnation
        else {
            // Readmitted, gone for good, or declared dead again at the claim's incarnation:
            // nothing is held any more (a newer claim starts afresh).
            dropHold(id)
            return
        }
        if hold.pings >= Self.flapConfirmPings {
            // The round went unanswered: its numbers are forgotten (a member silent for a day
            // must not leave thousands behind), and a late ack no longer counts.
            hold.pings = 0
            membership.holds[id] = hold
            forgetHoldPings(of: id)
            membership.stats.revivalHoldsExtended += 1
            timers.schedule(.membership(.revivalHold(id)), at: now + settings.flapHold)
            return
        }
        hold.pings += 1
        membership.holds[id] = hold
        let seq = membership.nextSeq()
        membership.holdPings[seq] = id
        sendDatagram(.ping(seq: seq, target: id), to: hold.claim.peer)
        timers.schedule(.membership(.revivalHold(id)), at: now + settings.probeTimeout)
    }

    /// An ack for one of our confirming pings: if the held member itself answered, it is
    /// back (an ack in its number from anyone else changes nothing). Returns whether the ack
    /// was one of ours.
    mutating func onRevivalAck(seq: UInt32, from sender: NodeID) -> Bool {
        guard let id = membership.holdPings[seq] else { return false }
        guard sender == id else { return true }
        guard let hold = membership.holds[id] else {
            membership.holdPings[seq] = nil
            return true
        }
        dropHold(id)
        guard let r = table[id], r.member.status == .dead, hold.claim.incarnation > r.member.incarnation else {
            return true
        }
        membership.stats.revivalsConfirmed += 1
        var updated = hold.claim
        updated.status = .alive
        var local = Inbound.local
        set(updated, previous: r.member)
        enqueue(.alive(updated), &local)
        return true
    }

    mutating func dropHold(_ id: NodeID) {
        membership.holds[id] = nil
        forgetHoldPings(of: id)
    }

    mutating func forgetHoldPings(of id: NodeID) {
        membership.holdPings = membership.holdPings.filter { $0.value != id }
    }

    /// When `id` came back from the dead within the window.
    func recentRevivals(of id: NodeID) -> [Instant] {
        let since = now - settings.flapWindow
        return membership.revivals[id, default: []].filter { $0 > since }
    }

    /// A member came back from the dead: remember when (the last `flapThreshold + 1` times
    /// within the window are all the rule needs).
    mutating func noteRevival(of id: NodeID) {
        guard settings.flapThreshold > 0 else { return }
        var times = recentRevivals(of: id)
        times.append(now)
        if times.count > settings.flapThreshold + 1 { times.removeFirst(times.count - settings.flapThreshold - 1) }
        membership.revivals[id] = times
    }

    /// Forget comebacks older than the window (from the reap tick).
    mutating func forgetOldRevivals() {
        let since = now - settings.flapWindow
        for (id, times) in membership.revivals where times.allSatisfy({ $0 <= since }) {
            membership.revivals[id] = nil
        }
    }
}
