/// Routing broadcasts through the queens (docs/design.md §5), after Plumtree (Leitão et al.
/// 2007): records, events and queries are pushed eagerly down a tree — worker → its queen
/// → her workers and every other queen → their workers — so each member receives each
/// broadcast about once. Every holder also announces the ids it received to `lazyFanout`
/// random members (lazy push); a member that hears of an id it has not received within
/// `graftTimeout` pulls it from the announcer (graft). Without a queen (no hive, an
/// election under way) news travels by plain gossip as before.
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
        case .worker: return hive.queen != nil && hive.queenRecentlyHeard(now: now, settings.hive)
        case .homeless, .preCandidate, .candidate: return false
        }
    }

    /// Called for every queued broadcast: routable news goes down the tree instead of into
    /// the piggyback queue while this member routes. True if it was taken.
    mutating func routeInstead(_ update: Update, _ inbound: inout Inbound) -> Bool {
        guard routing, let id = BroadcastID(update) else { return false }
        router.announce.append(id)
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
                router.routeOutbox.append(update)
            } else if case .tree(.cell) = inbound.ingress {
                router.claimsDown[c.cell] = c
            } else {
                router.claimsUp[c.cell] = c
            }
            return true
        }
        router.remember(id, update, capacity: settings.hive.routedCacheSize)
        switch inbound.ingress {
        case .tree: inbound.forward.append(update)
        // A graft answer means the tree missed us; it may have missed everyone (the origin's
        // queen died with it), so it goes up the tree like our own: a queen that holds it
        // already drops it, one that lacks it forwards it to her cell and the queens.
        case .leaf, .local: router.routeOutbox.append(update)
        }
        return true
    }

    /// Send our own broadcasts (and gossip news) up: to our queen, or as queen down to the
    /// cell and across to the other queens.
    mutating func flushRouteOutbox() {
        let items = router.routeOutbox
        router.routeOutbox = []
        if hive.role == .queen {
            relay(items, except: nil, toCell: true, toQueens: true)
        } else if !sendUp(items) {
            // The queen went away meanwhile: plain gossip.
            for u in items { dissemination.queue.enqueue(u) }
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
        guard !router.claimsUp.isEmpty || !router.claimsDown.isEmpty else { return }
        let up = router.claimsUp.keys.sorted().map { Update.queen(router.claimsUp[$0]!) }
        let all = router.claimsDown.merging(router.claimsUp) { a, b in b.supersedes(a) ? b : a }
        router.claimsUp = [:]
        router.claimsDown = [:]
        if hive.role == .queen {
            relay(all.keys.sorted().map { .queen(all[$0]!) }, except: nil, toCell: true, toQueens: false)
            relay(up, except: nil, toCell: false, toQueens: true)
        } else if !sendUp(up) {
            // Out of the tree meanwhile: plain gossip (this gossip round carries them; it
            // re-arms itself).
            for u in up { dissemination.queue.enqueue(u) }
        }
    }

    /// As queen: `items` to every worker if `toCell` and to every other live queen if
    /// `toQueens`, never back to `except` — queued for the next paced send (see `paceRelay`).
    mutating func relay(_ items: [Update], except: NodeID?, toCell: Bool, toQueens: Bool) {
        for u in items {
            router.relay.append(Router.Relay(update: u, except: except, toCell: toCell, toQueens: toQueens))
        }
    }

    /// At the end of each step: send what waits to go up or down the tree — at once while
    /// the relay budget allows (`relayPerSecond`, bursts of `relayBurst`), else when it
    /// does. A queen relays the whole swarm's broadcasts to each worker; one datagram per
    /// broadcast would, past a few hundred a second, trip her workers' rate limits (which
    /// count packets) and get her graylisted, suspected and evicted. Paced, each member gets
    /// from her at most `relayPerSecond` packed lots a second, and nothing waits while the
    /// swarm is quiet.
    mutating func paceRelay() {
        guard !router.routeOutbox.isEmpty || !router.relay.isEmpty, !router.relayArmed else { return }
        let wait = router.pace(rate: settings.hive.relayPerSecond, burst: settings.hive.relayBurst, now: now)
        if wait == .zero {
            sendRelay()
        } else {
            router.relayArmed = true
            timers.schedule(.router(.relay), at: now + wait)
        }
    }

    mutating func onRelayTick() {
        router.relayArmed = false
        paceRelay()
    }

    /// Send our own broadcasts up (or, as queen, queue them down) and every queued relay:
    /// each target gets one packed lot (less what came from it).
    mutating func sendRelay() {
        if !router.routeOutbox.isEmpty { flushRouteOutbox() }
        guard !router.relay.isEmpty else { return }
        let lot = router.relay
        router.relay = []
        guard hive.role == .queen, let roster = hive.roster else {
            // No longer queen: the tree is gone here; gossip carries them.
            for r in lot { dissemination.queue.enqueue(r.update) }
            armGossip()
            return
        }
        var targets: [Router.Target] = []
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            targets.append(Router.Target(id: v.id, peer: m.peer, cell: true))
        }
        for cell in hive.cells.keys.sorted() where cell != hive.cell {
            let c = hive.cells[cell]!
            guard !c.dissolved, c.queen != me.id, table[c.queen]?.member.status.isLive == true else { continue }
            targets.append(Router.Target(id: c.queen, peer: c.peer, cell: false))
        }
        let plan = Router.fanOut(lot, to: targets)
        // Packed once for all the targets of a kind (a queen sends to dozens).
        var shared: [Bool: [(packet: Packet, via: Transport, items: Int)]] = [:]
        for (t, delivery) in plan.deliveries {
            switch delivery {
            case .own(let mine):
                send(routePackets(.cell, mine), to: t.peer)
            case .shared(let cell):
                if shared[cell] == nil { shared[cell] = routePackets(.cell, cell ? plan.forCell : plan.forQueens) }
                send(shared[cell]!, to: t.peer)
            }
        }
    }

    /// Routed broadcasts packed into datagrams (`Router.pack`).
    func routePackets(_ scope: RouteScope, _ items: [Update]) -> [(packet: Packet, via: Transport, items: Int)] {
        Router.pack(scope, items, from: me.id, maxDatagramBytes: settings.maxDatagramBytes)
    }

    mutating func send(_ packets: [(packet: Packet, via: Transport, items: Int)], to peer: Peer) {
        for p in packets {
            out.append(.send(p.packet, to: peer, via: p.via))
            router.stats.routedForwarded += p.items
        }
    }

    mutating func onRoute(scope: RouteScope, updates: [Update], from sender: Peer, graylisted: Bool, blame: NodeID?) {
        guard !graylisted else {
            trust.stats.graylistedUpdatesIgnored += updates.count
            return
        }
        var inbound = Inbound(sender: blame, ingress: scope == .leaf ? .leaf : .tree(scope))
        for u in updates {
            guard BroadcastID(u) != nil else {
                // Only broadcasts are routed; membership news rides on gossip.
                replicated.stats.recordsInvalid += 1
                continue
            }
            apply(u, &inbound)
        }
        let fresh = inbound.forward
        guard !fresh.isEmpty, hive.role == .queen else { return }
        switch scope {
        case .swarm: relay(fresh, except: sender.id, toCell: true, toQueens: true)
        case .cell: relay(fresh, except: sender.id, toCell: true, toQueens: false)
        case .leaf: break
        }
    }

}
