/// Routing broadcasts through the queens (DESIGN.md §5), after Plumtree (Leitão et al.
/// 2007): records, events and queries are pushed eagerly down a tree — worker → its queen
/// → her workers and every other queen → their workers — so each member receives each
/// broadcast about once. Every holder also announces the ids it received to `lazyFanout`
/// random members (lazy push); a member that hears of an id it has not received within
/// `graftTimeout` pulls it from the announcer (graft). Without a queen (no hive, an
/// election under way) news travels by plain gossip as before.
enum Ingress: Equatable {
    /// Our own broadcast, or news from gossip or anti-entropy: route it up.
    case local
    /// Pushed down the tree to us with this scope.
    case tree(RouteScope)
    /// An answer to a graft: keep it.
    case leaf
}

extension NodeCore {
    /// This member routes through the tree (a queen, or a worker that heard its queen within
    /// the stickiness window).
    public var isRouting: Bool { routing }

    /// This member routes through the tree: it is a queen, or a worker that heard its queen
    /// within the stickiness window.
    var routing: Bool {
        guard hiveOn else { return false }
        switch hive.role {
        case .queen: return true
        case .worker: return hive.queen != nil && queenRecentlyHeard
        case .homeless, .preCandidate, .candidate: return false
        }
    }

    /// Called for every queued broadcast: routable news goes down the tree instead of into
    /// the piggyback queue while this member routes. True if it was taken.
    mutating func routeInstead(_ update: Update) -> Bool {
        guard routing, let id = BroadcastID(update) else { return false }
        hive.announce.append(id)
        armGossip()
        if case .queen(let c) = update {
            // A queen's own claim goes at once (one per election, size change or refresh):
            // until the other queens hold a new cell's claim, they forward it nothing, and
            // its members pull every broadcast. Others' claims wait for the gossip round,
            // packed together: during formation a queen hears dozens a second, and a datagram
            // for each to every worker would trip the workers' rate limits. Claims stay out
            // of the routed cache: the directory answers a graft for a claim with the cell's
            // newest (see `onGraft`), and in a large swarm the superseded claims a member
            // relays would fill the cache (`routedCacheSize` a member).
            if c.queen == me.id && hive.role == .queen {
                routeOutbox.append(update)
            } else if case .tree(.cell) = ingress {
                hive.claimsDown[c.cell] = c
            } else {
                hive.claimsUp[c.cell] = c
            }
            return true
        }
        remember(id, update)
        switch ingress {
        case .tree: forwarding.append(update)
        // A graft answer means the tree missed us; it may have missed everyone (the origin's
        // queen died with it), so it goes up the tree like our own: a queen that holds it
        // already drops it, one that lacks it forwards it to her cell and the queens.
        case .leaf, .local: routeOutbox.append(update)
        }
        return true
    }

    mutating func remember(_ id: BroadcastID, _ update: Update) {
        guard hive.routed.updateValue(update, forKey: id) == nil else { return }
        hive.routedOrder.append(id)
        if hive.routedOrder.count - hive.routedHead > settings.hive.routedCacheSize {
            hive.routed[hive.routedOrder[hive.routedHead]] = nil
            hive.routedHead += 1
            if hive.routedHead > 4096 {
                hive.routedOrder.removeFirst(hive.routedHead)
                hive.routedHead = 0
            }
        }
    }

    /// Send our own broadcasts (and gossip news) up: to our queen, or as queen down to the
    /// cell and across to the other queens.
    mutating func flushRouteOutbox() {
        let items = routeOutbox
        routeOutbox = []
        if hive.role == .queen {
            relay(items, except: nil, toCell: true, toQueens: true)
        } else if !sendUp(items) {
            // The queen went away meanwhile: plain gossip.
            for u in items { queue.enqueue(u) }
            armGossip()
        }
    }

    /// As a worker routing through a live queen: `items` up to her (true), or nothing sent.
    mutating func sendUp(_ items: [Update]) -> Bool {
        guard routing, let q = hive.queen, let m = table[q]?.member, m.status.isLive else { return false }
        send(routePackets(.swarm, items), to: m.peer)
        return true
    }

    /// Send the claims held for this round (see `routeInstead`). A queen sends all of them
    /// to her cell, and those that did not come from another queen (her own, her workers')
    /// to the other queens; a worker sends those it did not get from its queen up to her.
    mutating func flushClaims() {
        guard !hive.claimsUp.isEmpty || !hive.claimsDown.isEmpty else { return }
        let up = hive.claimsUp.keys.sorted().map { Update.queen(hive.claimsUp[$0]!) }
        let all = hive.claimsDown.merging(hive.claimsUp) { a, b in b.supersedes(a) ? b : a }
        hive.claimsUp = [:]
        hive.claimsDown = [:]
        if hive.role == .queen {
            relay(all.keys.sorted().map { .queen(all[$0]!) }, except: nil, toCell: true, toQueens: false)
            relay(up, except: nil, toCell: false, toQueens: true)
        } else if !sendUp(up) {
            // Out of the tree meanwhile: plain gossip (this gossip round carries them; it
            // re-arms itself).
            for u in up { queue.enqueue(u) }
        }
    }

    /// As queen: `items` to every worker if `toCell` and to every other live queen if
    /// `toQueens`, never back to `except` — queued for the next paced send (see `paceRelay`).
    mutating func relay(_ items: [Update], except: NodeID?, toCell: Bool, toQueens: Bool) {
        for u in items { hive.relay.append(Relay(update: u, except: except, toCell: toCell, toQueens: toQueens)) }
    }

    /// At the end of each step: send what waits to go up or down the tree — at once while
    /// the relay budget allows (`relayPerSecond`, bursts of `relayBurst`), else when it
    /// does. A queen relays the whole swarm's broadcasts to each worker; one datagram per
    /// broadcast would, past a few hundred a second, trip her workers' rate limits (which
    /// count packets) and get her graylisted, suspected and evicted. Paced, each member gets
    /// from her at most `relayPerSecond` packed lots a second, and nothing waits while the
    /// swarm is quiet.
    mutating func paceRelay() {
        guard !routeOutbox.isEmpty || !hive.relay.isEmpty, !hive.relayArmed else { return }
        let rate = settings.hive.relayPerSecond
        let burst = settings.hive.relayBurst
        var bucket = hive.relayBucket ?? TokenBucket(burst: burst, at: now)
        let wait = bucket.wait(for: 1, rate: rate, burst: burst, now: now)
        if wait == 0 {
            _ = bucket.take(1, rate: rate, burst: burst, now: now)
            hive.relayBucket = bucket
            sendRelay()
        } else {
            hive.relayBucket = bucket
            hive.relayArmed = true
            timers.schedule(.relay, at: now.advanced(byNanoseconds: wait))
        }
    }

    mutating func onRelayTick() {
        hive.relayArmed = false
        paceRelay()
    }

    /// Send our own broadcasts up (or, as queen, queue them down) and every queued relay:
    /// each target gets one packed lot (less what came from it).
    mutating func sendRelay() {
        if !routeOutbox.isEmpty { flushRouteOutbox() }
        guard !hive.relay.isEmpty else { return }
        let lot = hive.relay
        hive.relay = []
        guard hive.role == .queen, let roster = hive.roster else {
            // No longer queen: the tree is gone here; gossip carries them.
            for r in lot { queue.enqueue(r.update) }
            armGossip()
            return
        }
        var targets: [(id: NodeID, peer: Peer, cell: Bool)] = []
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            targets.append((v.id, m.peer, true))
        }
        for cell in hive.cells.keys.sorted() where cell != hive.cell {
            let c = hive.cells[cell]!
            guard !c.dissolved, c.queen != me.id, table[c.queen]?.member.status.isLive == true else { continue }
            targets.append((c.queen, c.peer, false))
        }
        let excepts = Set(lot.compactMap(\.except))
        let forCell = lot.filter(\.toCell)
        let forQueens = lot.filter(\.toQueens)
        var common: [Bool: [(packet: Packet, via: Transport, items: Int)]] = [:]
        for t in targets {
            let wanted = t.cell ? forCell : forQueens
            if excepts.contains(t.id) {
                // Packed for it alone: it sent us some of these.
                let mine = wanted.filter { $0.except != t.id }.map(\.update)
                if !mine.isEmpty { send(routePackets(.cell, mine), to: t.peer) }
                continue
            }
            guard !wanted.isEmpty else { continue }
            // Packed once for all the others (a queen sends to dozens).
            if common[t.cell] == nil { common[t.cell] = routePackets(.cell, wanted.map(\.update)) }
            send(common[t.cell]!, to: t.peer)
        }
    }

    /// Routed broadcasts packed into datagrams (a broadcast too large for one goes alone by
    /// stream), in order.
    func routePackets(_ scope: RouteScope, _ items: [Update]) -> [(packet: Packet, via: Transport, items: Int)] {
        let header = Wire.size(of: Packet(from: me.id, message: .route(scope: scope, updates: []))) + 4
        var out: [(packet: Packet, via: Transport, items: Int)] = []
        var batch: [Update] = []
        var bytes = header
        func packet(_ us: [Update]) -> Packet { Packet(from: me.id, message: .route(scope: scope, updates: us)) }
        for u in items {
            let size = Wire.size(of: u)
            if header + size > settings.maxDatagramBytes {
                out.append((packet([u]), .stream, 1))
                continue
            }
            if bytes + size > settings.maxDatagramBytes {
                out.append((packet(batch), .datagram, batch.count))
                batch = []
                bytes = header
            }
            batch.append(u)
            bytes += size
        }
        if !batch.isEmpty { out.append((packet(batch), .datagram, batch.count)) }
        return out
    }

    mutating func send(_ packets: [(packet: Packet, via: Transport, items: Int)], to peer: Peer) {
        for p in packets {
            out.append(.send(p.packet, to: peer, via: p.via))
            stats.routedForwarded += p.items
        }
    }

    mutating func onRoute(scope: RouteScope, updates: [Update], from sender: Peer, graylisted: Bool) {
        guard !graylisted else {
            stats.graylistedUpdatesIgnored += updates.count
            return
        }
        ingress = scope == .leaf ? .leaf : .tree(scope)
        forwarding = []
        for u in updates {
            guard BroadcastID(u) != nil else {
                // Only broadcasts are routed; membership news rides on gossip.
                stats.recordsInvalid += 1
                continue
            }
            apply(u)
        }
        ingress = .local
        let fresh = forwarding
        forwarding = []
        guard !fresh.isEmpty, hive.role == .queen else { return }
        switch scope {
        case .swarm: relay(fresh, except: sender.id, toCell: true, toQueens: true)
        case .cell: relay(fresh, except: sender.id, toCell: true, toQueens: false)
        case .leaf: break
        }
    }

    // MARK: Lazy push and graft

    func holds(_ id: BroadcastID) -> Bool {
        switch id {
        case .record(let d): state.seen.contains(d)
        case .event(let d): eventsSeen.contains(d)
        // A newer claim of the cell stands for every older one.
        case .claim(let cell, let term, let serial):
            hive.cells[cell].map { ($0.term, $0.serial) >= (term, serial) } ?? false
        }
    }

    /// In each gossip round: the ids received since the last one, to `lazyFanout` members.
    mutating func sendAnnouncements() {
        guard !hive.announce.isEmpty else { return }
        let ids = hive.announce
        hive.announce = []
        let targets = randomMembers(settings.hive.lazyFanout) { $0.member.status == .alive }
        guard !targets.isEmpty else { return }
        stats.idsAnnounced += ids.count
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
        for id in ids.prefix(512) where hive.missing[id] == nil && !holds(id) {
            guard hive.missingOrder.count < 8192 else { break }
            hive.missing[id] = (sender, now)
            hive.missingOrder.append(id)
            added = true
        }
        if added && !hive.graftArmed {
            hive.graftArmed = true
            timers.schedule(.graft, at: now + settings.hive.graftTimeout)
        }
    }

    mutating func onGraftTick() {
        hive.graftArmed = false
        let timeout = settings.hive.graftTimeout.nanosecondsInt64
        var asks: [(peer: Peer, ids: [BroadcastID])] = []
        var k = 0
        while k < hive.missingOrder.count {
            let id = hive.missingOrder[k]
            guard let m = hive.missing[id] else {
                k += 1
                continue
            }
            if now.nanoseconds(since: m.at) < timeout { break }
            hive.missing[id] = nil
            k += 1
            if holds(id) { continue }
            if let i = asks.firstIndex(where: { $0.peer == m.from }) {
                asks[i].ids.append(id)
            } else {
                asks.append((m.from, [id]))
            }
        }
        hive.missingOrder.removeFirst(k)
        for a in asks {
            stats.graftsSent += a.ids.count
            sendIDs(a.ids, as: Message.graft, to: a.peer)
        }
        if let first = hive.missingOrder.first, let m = hive.missing[first] {
            hive.graftArmed = true
            timers.schedule(.graft, at: m.at + settings.hive.graftTimeout)
        }
    }

    mutating func onGraft(_ ids: [BroadcastID], from sender: Peer, graylisted: Bool) {
        guard !graylisted else { return }
        let items = ids.prefix(256).compactMap { id -> Update? in
            if case .claim(let cell, _, _) = id { return holds(id) ? hive.cells[cell].map(Update.queen) : nil }
            return hive.routed[id]
        }
        guard !items.isEmpty else { return }
        stats.graftsAnswered += items.count
        send(routePackets(.leaf, items), to: sender)
    }
}
