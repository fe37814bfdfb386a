/// Plumtree's lazy push (Leitão et al. 2007, §3): every holder of a routed broadcast
/// announces its id to `lazyFanout` random members; one that hears of an id it lacks pulls
/// it after `graftTimeout` (graft). This repairs what the eager tree missed.
extension NodeCore {
    // MARK: Lazy push and graft

    func holds(_ id: BroadcastID) -> Bool {
        switch id {
        case .record(let d): state.seen.contains(d)
        case .event(let d): replicated.eventsSeen.contains(d)
        // A newer claim of the cell stands for every older one.
        case .claim(let cell, let term, let serial):
            hive.cells[cell].map { ($0.term, $0.serial) >= (term, serial) } ?? false
        }
    }

    /// In each gossip round: the ids received since the last one, to `lazyFanout` members.
    mutating func sendAnnouncements() {
        guard !router.announce.isEmpty else { return }
        let ids = router.announce
        router.announce = []
        let targets = randomMembers(settings.hive.lazyFanout) { $0.member.status == .alive }
        guard !targets.isEmpty else { return }
        router.stats.idsAnnounced += ids.count
        for t in targets { sendIDs(ids, as: Message.ihave, to: t.peer, maxPackets: 8) }
    }

    /// The most bytes one broadcast id takes on the wire (kind, origin, a 10-byte varint; a
    /// claim's: kind, cell, two 10-byte varints).
    static let broadcastIDBytes = 29

    /// Ids in as many datagrams as they need (at most `maxPackets`; the rest are dropped —
    /// anti-entropy covers what lazy push misses).
    mutating func sendIDs(
        _ ids: [BroadcastID], as message: ([BroadcastID]) -> Message, to peer: Peer, maxPackets: Int = .max
    ) {
        let perPacket = max(1, (settings.maxDatagramBytes - 64) / Self.broadcastIDBytes)
        var start = 0
        var packets = 0
        while start < ids.count && packets < maxPackets {
            let end = min(ids.count, start + perPacket)
            out.append(.send(Packet(from: me.id, message: message(Array(ids[start..<end]))), to: peer, via: .datagram))
            start = end
            packets += 1
        }
    }

    mutating func onIHave(_ ids: [BroadcastID], from sender: Peer) {
        guard hiveOn else { return }
        var added = false
        for id in ids.prefix(512) where router.missing[id] == nil && !holds(id) {
            guard router.missingOrder.count < 8192 else { break }
            router.missing[id] = (sender, now)
            router.missingOrder.append(id)
            added = true
        }
        if added && !router.graftArmed {
            router.graftArmed = true
            timers.schedule(.router(.graft), at: now + settings.hive.graftTimeout)
        }
    }

    mutating func onGraftTick() {
        router.graftArmed = false
        let timeout = settings.hive.graftTimeout
        var asks: [(peer: Peer, ids: [BroadcastID])] = []
        var k = 0
        while k < router.missingOrder.count {
            let id = router.missingOrder[k]
            guard let m = router.missing[id] else {
                k += 1
                continue
            }
            if now - m.at < timeout { break }
            router.missing[id] = nil
            k += 1
            if holds(id) { continue }
            if let i = asks.firstIndex(where: { $0.peer == m.from }) {
                asks[i].ids.append(id)
            } else {
                asks.append((m.from, [id]))
            }
        }
        router.missingOrder.removeFirst(k)
        for a in asks {
            router.stats.graftsSent += a.ids.count
            sendIDs(a.ids, as: Message.graft, to: a.peer)
        }
        if let first = router.missingOrder.first, let m = router.missing[first] {
            router.graftArmed = true
            timers.schedule(.router(.graft), at: m.at + settings.hive.graftTimeout)
        }
    }

    mutating func onGraft(_ ids: [BroadcastID], from sender: Peer, graylisted: Bool) {
        guard !graylisted else { return }
        let items = ids.prefix(256).compactMap { id -> Update? in
            if case .claim(let cell, _, _) = id { return holds(id) ? hive.cells[cell].map(Update.queen) : nil }
            return router.routed[id]
        }
        guard !items.isEmpty else { return }
        router.stats.graftsAnswered += items.count
        send(routePackets(.leaf, items), to: sender)
    }
}
