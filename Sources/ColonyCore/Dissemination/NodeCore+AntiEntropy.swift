import HashTreeCollections

/// Stream exchanges: joining (full-state push-pull), periodic digest anti-entropy, and
/// reconnecting to dead members (which heals partitions).
///
/// Digest drill-down: the initiator sends the XOR-hash of its whole table; an agreeing peer
/// says `inSync` (a round costs ~60 bytes at any N). Otherwise the peer returns bucket
/// hashes (2^bits buckets, bits ≈ log2(N/8), at most 256), and the two swap just the members
/// of the buckets that differ. memberlist instead ships the full table every round, which is
/// why its anti-entropy load grows with N.
extension NodeCore {
    // MARK: Periodic anti-entropy and reconnect

    mutating func onPushPullTick() {
        timers.schedule(.dissemination(.pushPull), at: now + settings.pushPullPeriod(members: table.liveCount))
        guard phase == .active else { return }
        if let peer = randomMembers(1, filter: { $0.member.status == .alive }).first {
            startDigest(with: peer.peer)
        }
    }

    /// Serf's reconnect: try one dead member, with probability (dead / live) per node, so
    /// the swarm as a whole makes about one attempt per dead member per interval.
    mutating func onReconnectTick() {
        timers.schedule(.dissemination(.reconnect), at: now + settings.reconnectInterval)
        guard phase == .active, !membership.gone.isEmpty else { return }
        let deadCount = table.count(.dead)
        guard deadCount > 0 else { return }
        let live = max(1, table.liveCount - 1)
        let probability = Double(deadCount) / Double(live)
        guard rng.unit() < probability else { return }
        let horizon = settings.reconnectTimeout
        for _ in 0..<4 {
            let entry = membership.gone[
                membership.gone.index(membership.gone.startIndex, offsetBy: rng.below(membership.gone.count))]
            guard let r = table[entry.key], r.member.status == .dead, !isExcluded(entry.key),
                now - entry.value < horizon
            else { continue }
            startDigest(with: r.member.peer)
            startStateSync(with: r.member.peer)
            return
        }
    }

    /// A member we hold dead just sent us a packet: it is up (restarted, or back from a
    /// partition) and we missed the news that says so. Swap tables with it now instead of
    /// waiting for a periodic round (at most once per reconnect interval per member).
    mutating func reviveIfDead(_ id: NodeID) {
        guard phase == .active, let r = table[id], r.member.status == .dead else { return }
        if let last = membership.lastRevive[id], now - last < settings.reconnectInterval { return }
        membership.lastRevive[id] = now
        startDigest(with: r.member.peer)
    }

    mutating func startDigest(with peer: Peer) {
        let e = membership.nextSeq()
        dissemination.exchanges[e] = Dissemination.Exchange(kind: .digest, peer: peer, startedAt: now)
        timers.schedule(.dissemination(.exchangeTimeout(e)), at: now + settings.streamTimeout)
        dissemination.stats.syncsStarted += 1
        sendStream(.digest(exchange: e, root: table.rootHash, count: UInt32(clamping: table.count)), to: peer)
    }

    mutating func onExchangeTimeout(exchange: UInt32) {
        guard let x = dissemination.exchanges.removeValue(forKey: exchange) else { return }
        if x.kind == .join && !joinSeeds.isEmpty {
            let stillPending = dissemination.exchanges.values.contains { $0.kind == .join }
            if !stillPending {
                let delay = settings.joinRetryDelay(afterAttempt: membership.joinAttempt)
                emit(.joinFailed(attempt: membership.joinAttempt, retryIn: delay))
                timers.schedule(.membership(.joinRetry), at: now + delay)
            }
        }
    }

    // MARK: Responding

    mutating func onSync(_ sync: Sync, from sender: Peer, _ inbound: inout Inbound) {
        guard phase == .active || phase == .leaving else { return }
        let senderID = sender.id ?? me.id
        switch sync {
        case .join(let e, let members):
            // `applyAlive` refuses (and counts) members speaking an unsupported version.
            mergeRemote(members, from: senderID, &inbound)
            // With admission on, only an admitted joiner learns the swarm.
            if settings.trust.authorityKey != nil, table[senderID]?.member.status.isLive != true {
                trust.stats.admissionRefused += 1
                return
            }
            sendStream(.joinReply(exchange: e, members: shared(table.allMembers)), to: sender)
            if !recentEvents.isEmpty { sendStream(.recentEvents(exchange: e, events: recentEvents), to: sender) }
            sendCells(to: sender)
        case .joinReply(let e, let members):
            onJoinReply(exchange: e, members: members, from: sender, &inbound)
        case .digest(let e, let root, let count):
            if root == table.rootHash {
                sendStream(.inSync(exchange: e), to: sender)
            } else {
                let bits = Self.digestBits(members: max(Int(count), table.count))
                sendStream(.buckets(exchange: e, bits: bits, hashes: table.bucketHashes(bits: bits)), to: sender)
            }
        case .inSync(let e):
            if let x = dissemination.exchanges.removeValue(forKey: e) {
                if x.kind == .state {
                    replicated.stats.stateSyncsInAgreement += 1
                } else {
                    dissemination.stats.syncsInAgreement += 1
                }
            }
        case .stateRoot, .stateDigest, .stateRecords:
            onStateSync(sync, from: sender, &inbound)
        case .recentEvents(_, let events):
            for ev in events { applyEvent(ev, replayed: true, &inbound) }
        case .eventIDs(let e, let ids, let isReply):
            // Answer with our recent events the initiator does not list (not a coalesced one
            // it has a newer of: applyEvent drops those anyway).
            let listed = Set(ids.prefix(settings.eventBufferSize * 2))
            let missed = recentEvents.filter { !listed.contains($0.id) }
            if !missed.isEmpty { sendStream(.missedEvents(exchange: e, events: missed), to: sender) }
            // We lack some of the initiator's: list ours once, so it answers in kind.
            if !isReply, listed.contains(where: { !replicated.eventsSeen.contains($0) }) {
                sendStream(.eventIDs(exchange: e, ids: recentEvents.map(\.id), isReply: true), to: sender)
            }
        case .missedEvents(_, let events):
            for ev in events { applyEvent(ev, replayed: false, &inbound) }
        case .buckets(let e, let bits, let hashes):
            guard let x = dissemination.exchanges[e], x.kind == .digest,
                bits <= MemberTable.bucketBits, hashes.count == 1 << Int(bits)
            else { return }
            let mine = table.bucketHashes(bits: bits)
            var differing: [UInt16] = []
            for i in 0..<mine.count where mine[i] != hashes[i] { differing.append(UInt16(i)) }
            if differing.isEmpty {
                dissemination.exchanges[e] = nil
                dissemination.stats.syncsInAgreement += 1
                return
            }
            sendStream(
                .entries(
                    exchange: e, bits: bits, buckets: differing,
                    members: shared(table.members(inBuckets: differing, bits: bits)), isReply: false), to: sender)
        case .entries(let e, let bits, let buckets, let members, let isReply):
            guard bits <= MemberTable.bucketBits else { return }
            if isReply {
                guard dissemination.exchanges.removeValue(forKey: e) != nil else { return }
                dissemination.stats.syncMembersReceived += members.count
                mergeRemote(members, from: senderID, &inbound)
            } else {
                let mine = shared(table.members(inBuckets: buckets, bits: bits))
                dissemination.stats.syncMembersReceived += members.count
                mergeRemote(members, from: senderID, &inbound)
                sendStream(
                    .entries(exchange: e, bits: bits, buckets: buckets, members: mine, isReply: true), to: sender)
            }
        }
    }

    /// Buckets to compare at: about eight members per bucket, at most 2^8 buckets.
    static func digestBits(members n: Int) -> UInt8 {
        UInt8(min(Int(MemberTable.bucketBits), max(0, PureMath.ceilLog2(max(1, n / 8)))))
    }

}
