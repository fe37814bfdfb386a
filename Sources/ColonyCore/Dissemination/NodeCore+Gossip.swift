import HashTreeCollections

/// Gossip rounds: every `gossipInterval`, while there is news, send it to `gossipNodes`
/// random members — live ones, and ones that died within `gossipToTheDeadTime` so they
/// learn they were declared dead (memberlist `gossip`). Idle nodes arm no gossip timer.
extension NodeCore {
    mutating func onGossipTick() {
        dissemination.gossipArmed = false
        if phase == .leaving && !queue.contains(subject: .member(me.id)) {
            completeLeave()
            return
        }
        flushClaims()
        sendAnnouncements()
        guard !queue.isEmpty else { return }
        let now = self.now
        let deadWindow = settings.gossipToTheDeadTime
        let targets = randomMembers(settings.gossipNodes) { r in
            r.member.status.isLive || (r.member.status == .dead && now - r.changedAt < deadWindow)
        }
        if phase == .leaving && table.liveCount == 0 {
            // Nobody left to tell: the leave is as complete as it can be.
            completeLeave()
            return
        }
        for t in targets {
            if queue.isEmpty { break }
            if queue.hasLarge {
                // Broadcasts too large for a datagram (big values, events) go by stream.
                let large = dissemination.queue.takeLarge(budget: settings.maxStreamGossipBytes, limit: retransmitLimit)
                out.append(.send(Packet(from: me.id, message: .gossip, updates: large), to: t.peer, via: .stream))
            }
            // A busy queue (a burst of writes) goes out in several packets per target, each
            // item at most about once per target per round.
            let perPacket = max(1, settings.maxDatagramBytes - 64)
            var packets = min(settings.maxGossipPacketsPerTarget, 1 + queue.smallBytes / perPacket)
            if packets > 1 {
                packets = dissemination.allowedPackets(
                    packets, of: settings.maxDatagramBytes, budget: settings.trust.gossipBytesPerSecond, now: now)
            }
            for _ in 0..<packets where !queue.isEmpty { sendDatagram(.gossip, to: t.peer) }
        }
        if !queue.isEmpty || phase == .leaving {
            dissemination.gossipArmed = true
            timers.schedule(.dissemination(.gossip), at: now + settings.gossipInterval)
        }
    }
}
