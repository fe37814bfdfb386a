import HashTreeCollections

/// Failure detection: probing, indirect probing, and the local health multiplier.
extension NodeCore {
    /// One protocol period ends and the next begins: judge the last probe, then probe the
    /// next member in randomised round-robin order.
    mutating func onProbeTick(late: Bool = false) {
        guard phase == .active else { return }
        if let p = membership.probe {
            if late && !p.acked {
                // We were stalled: the ack may be waiting unread. Do not blame the target.
                membership.awareness.apply(1)
                membership.stats.lateVerdictsDeferred += 1
            } else {
                finishProbe(p)
            }
        }
        membership.probe = nil
        timers.schedule(.membership(.probe), at: now + membership.awareness.scale(settings.probeInterval))
        guard let target = membership.nextProbeTarget(rng: &rng) else { return }
        let seq = membership.nextSeq()
        membership.probe = Membership.ProbeState(seq: seq, target: target.id, address: target.address, startedAt: now)
        membership.stats.probesSent += 1
        // Buddy system (Lifeguard §IV.C): a suspect hears of its suspicion from its prober.
        var first: [Update] = []
        if target.status == .suspect {
            first.append(.suspect(id: target.id, incarnation: target.incarnation, from: me.id))
        }
        sendDatagram(.ping(seq: seq, target: target.id), to: target.peer, first: first)
        let timeout = membership.awareness.scale(settings.probeTimeout)
        timers.schedule(.membership(.probeTimeout(seq)), at: now + timeout)
    }

    /// The direct ping went unanswered: ask `k` helpers to probe on our behalf.
    mutating func onProbeTimeout(seq: UInt32) {
        guard var p = membership.probe, p.seq == seq, !p.acked, phase == .active else { return }
        membership.probeRecord.note(answered: false)
        let target = p.target
        let helpers = randomMembers(settings.indirectChecks) { r in
            r.member.status == .alive && r.member.id != target
        }
        for h in helpers {
            sendDatagram(.pingReq(seq: seq, target: target, targetAddress: p.address), to: h.peer)
        }
        if !helpers.isEmpty {
            // Judge the helpers after any honest answer could arrive: a helper nacks after a
            // fraction of the probe timeout, so two timeouts leave room for the trip back.
            trust.helperAudits[seq] = Trust.HelperAudit(helpers: helpers.map(\.id))
            timers.schedule(.trust(.helperAudit(seq)), at: now + settings.probeTimeout * 2)
        }
        if settings.streamFallbackPing {
            out.append(
                .send(
                    Packet(from: me.id, message: .ping(seq: seq, target: target)),
                    to: Peer(id: target, address: p.address), via: .stream))
        }
        p.indirect = true
        p.helpers = helpers.map(\.id)
        p.expectedNacks = helpers.count
        membership.stats.indirectProbesSent += helpers.count
        membership.probe = p
    }

    /// The period ended. Acked: health improves. Not acked: health worsens by the nacks
    /// that did not come (we may be the slow one), and the target becomes suspect.
    mutating func finishProbe(_ p: Membership.ProbeState) {
        if p.acked { return }
        membership.stats.probesFailed += 1
        if p.expectedNacks > 0 {
            if p.nacks < p.expectedNacks { membership.awareness.apply(p.expectedNacks - p.nacks) }
        } else {
            membership.awareness.apply(1)
        }
        guard let r = table[p.target], r.member.status.isLive else { return }
        var local = Inbound.local
        applySuspect(
            id: p.target, incarnation: r.member.incarnation, from: me.id,
            evidenceSince: settings.anchorSuspicionAtProbe ? p.startedAt : nil, &local)
    }

    mutating func onAck(seq: UInt32, from sender: NodeID, coordinate: Coordinate? = nil, attributed: Bool) {
        noteHelperAnswer(seq: seq, from: sender)
        if let helper = trust.auditPings.removeValue(forKey: seq) {
            // It answers us directly, yet ignored our request to probe for us: freeloading,
            // once loss no longer explains how often (Trust+Helpers.swift).
            if helper == sender && attributed {
                trust.stats.unansweredPingReqs += 1
                if !settings.trust.lossTolerant
                    || trust.helperIgnored(helper, probeSuccess: membership.probeRecord.success)
                {
                    penalize(helper, .unanswered)
                } else {
                    reaudit(helper)
                }
            }
            return
        }
        if var p = membership.probe, p.seq == seq {
            // Sequence numbers are guessable: only the target, or a helper we asked, closes it.
            guard sender == p.target || p.helpers.contains(sender) else {
                trust.stats.strayAcksRefused += 1
                return
            }
            // A direct answer from the target measures the round trip: place ourselves.
            if let c = coordinate, sender == p.target, attributed {
                learnCoordinate(c, of: sender, rtt: (now - p.startedAt).inSeconds)
            }
            if !p.acked {
                p.acked = true
                // memberlist: a direct ack lowers the multiplier; an indirect one leaves it.
                if !p.indirect {
                    membership.awareness.apply(-1)
                    membership.probeRecord.note(answered: true)
                }
                membership.probe = p
                if attributed && (sender == p.target || trust.helperAudits[seq] != nil) {
                    reward(sender, timelyAck: true)
                }
            }
            return
        }
        if onNearnessAck(seq: seq, from: sender, coordinate: coordinate, attributed: attributed) { return }
        if onRevivalAck(seq: seq, from: sender) { return }
        if let h = membership.helping.removeValue(forKey: seq) {
            sendDatagram(.ack(seq: h.requesterSeq), to: h.requester)
        }
    }

    /// A direct answer from `peer`, whose coordinate is `c`, took `rtt` seconds: place
    /// ourselves by it and keep its coordinate (probe acks and nearness pings).
    mutating func learnCoordinate(_ c: Coordinate, of peer: NodeID, rtt: Double) {
        hive.vivaldi.update(peer: peer, other: c, rtt: rtt, rng: &hive.rng)
        if c.isValid { hive.peerCoordinates[peer] = c }
    }

    mutating func onNack(seq: UInt32, from sender: NodeID) {
        noteHelperAnswer(seq: seq, from: sender)
        guard var p = membership.probe, p.seq == seq, p.helpers.contains(sender) else { return }
        p.nacks += 1
        membership.stats.nacksReceived += 1
        membership.probe = p
    }

    /// As a helper: ping the target with our own sequence number and remember whom to tell.
    mutating func onPingReq(seq: UInt32, target: NodeID, targetAddress: Address, requester: Peer) {
        guard phase == .active else { return }
        let mySeq = membership.nextSeq()
        membership.helping[mySeq] = Membership.HelperProbe(requester: requester, requesterSeq: seq)
        sendDatagram(.ping(seq: mySeq, target: target), to: Peer(id: target, address: targetAddress))
        let wait = settings.probeTimeout.scaled(by: settings.indirectProbeTimeoutFraction)
        timers.schedule(.membership(.helperTimeout(mySeq)), at: now + wait)
    }

    /// Ask a helper whose requests went unanswered to probe us, at once: an honest one
    /// answers (and is cleared); a freeloader's run grows by one request a round instead of
    /// waiting for our next indirect probe to pick it (Trust+Helpers.swift).
    mutating func reaudit(_ helper: NodeID) {
        guard phase == .active, let r = table[helper], r.member.status.isLive else { return }
        let seq = membership.nextSeq()
        sendDatagram(.pingReq(seq: seq, target: me.id, targetAddress: me.address), to: r.member.peer)
        trust.helperAudits[seq] = Trust.HelperAudit(helpers: [helper])
        timers.schedule(.trust(.helperAudit(seq)), at: now + settings.probeTimeout * 2)
    }

    mutating func noteHelperAnswer(seq: UInt32, from sender: NodeID) {
        guard var audit = trust.helperAudits[seq], audit.helpers.contains(sender), !audit.answered.contains(sender)
        else {
            return
        }
        audit.answered.append(sender)
        trust.helperAudits[seq] = audit
        trust.helperAnswered(sender)
    }

    /// A helper that said nothing may be freeloading — or unreachable (a broken link, a
    /// crash). Ping it directly: only if it answers that was it freeloading.
    mutating func onHelperAudit(seq: UInt32) {
        guard let audit = trust.helperAudits.removeValue(forKey: seq) else { return }
        for h in audit.helpers where !audit.answered.contains(h) {
            guard let r = table[h], r.member.status.isLive else { continue }
            let s = membership.nextSeq()
            trust.auditPings[s] = h
            sendDatagram(.ping(seq: s, target: h), to: r.member.peer)
            timers.schedule(.trust(.auditPingTimeout(s)), at: now + settings.probeTimeout)
        }
    }

    mutating func onHelperTimeout(seq: UInt32) {
        guard let h = membership.helping.removeValue(forKey: seq) else { return }
        sendDatagram(.nack(seq: h.requesterSeq), to: h.requester)
    }
}
