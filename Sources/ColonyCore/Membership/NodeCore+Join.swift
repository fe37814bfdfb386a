import HashTreeCollections

/// Joining through seeds (a full-state exchange with each, retried with backoff), the extra
/// anti-entropy rounds soon after, graceful leave and the reaping of tombstones.
extension NodeCore {
    // MARK: Join

    mutating func attemptJoin() {
        guard phase == .active, !joinSeeds.isEmpty else { return }
        membership.joinAttempt += 1
        for seed in joinSeeds {
            let e = membership.nextSeq()
            dissemination.exchanges[e] = Dissemination.Exchange(
                kind: .join, peer: Peer(id: nil, address: seed), startedAt: now)
            timers.schedule(.dissemination(.exchangeTimeout(e)), at: now + settings.streamTimeout)
            sendStream(.join(exchange: e, members: [me]), to: Peer(id: nil, address: seed))
        }
    }

    mutating func onJoinReply(exchange: UInt32, members: [Member], from sender: Peer, _ inbound: inout Inbound) {
        guard let x = dissemination.exchanges.removeValue(forKey: exchange), x.kind == .join else { return }
        mergeRemote(members, from: sender.id ?? me.id, &inbound)
        dissemination.stats.syncMembersReceived += members.count
        membership.hasJoined = true
        // The first answer to a join in progress completes it; later answers only merge.
        guard !joinSeeds.isEmpty else { return }
        membership.joinSeeds = []
        emit(.joined(members: table.liveCount))
        // Catch up on the replicated state from the seed that answered.
        startStateSync(with: sender, catchUp: true)
        // Extra anti-entropy rounds soon after joining (Colony addition).
        membership.joinSyncsLeft = settings.joinSyncDelays
        scheduleNextJoinSync(previous: .zero)
    }

    mutating func scheduleNextJoinSync(previous: Duration) {
        guard let next = membership.joinSyncsLeft.first else { return }
        timers.schedule(.dissemination(.joinSync), at: now + (next - previous))
    }

    mutating func onJoinSyncTick() {
        guard phase == .active, !membership.joinSyncsLeft.isEmpty else { return }
        let current = membership.joinSyncsLeft.removeFirst()
        if let peer = randomMembers(1, filter: { $0.member.status == .alive }).first {
            startDigest(with: peer.peer)
            startStateSync(with: peer.peer)
        }
        scheduleNextJoinSync(previous: current)
    }

    // MARK: Tombstones and leaving

    mutating func onReapTick() {
        timers.schedule(.membership(.reap), at: now + settings.reapInterval)
        expireEvictions()
        forgetOldRevivals()
        var expired: [NodeID] = []
        for (id, since) in membership.gone where now - since >= settings.tombstoneTimeout { expired.append(id) }
        for id in expired {
            membership.gone[id] = nil
            membership.lastRevive[id] = nil
            membership.revivals[id] = nil
            membership.forcedLeft.remove(id)
            dropHold(id)
            if let r = table[id], r.member.status.isGone {
                membership.table.remove(id)
                emit(.memberReclaimed(id))
            }
        }
    }

    mutating func completeLeave() {
        guard phase == .leaving else { return }
        phase = .left
        timers.removeAll()
        emit(.leaveCompleted)
    }
}
