/// User events (Serf-style: named payloads to every member, Lamport-timed, de-duplicated
/// by id, buffered for late joiners) and queries (asked of matching members, answered
/// directly to the asker until a deadline) — docs/design.md §4.
extension NodeCore {
    // MARK: Events and queries: ids and Lamport time

    /// Why a new event or query cannot be sent, if it cannot.
    func broadcastRefusal(name: String, payload: [UInt8]) -> StateError? {
        if phase != .active { return .notActive }
        return ReplicatedState.limitError(name: name, payload: payload, settings)
    }

    /// Admit an event or query from anyone (ourselves included): false if its Lamport time
    /// is an impossible jump or it was seen before. Moves our Lamport clock.
    mutating func admitBroadcast(id: Dot, lamport theirs: UInt64) -> Bool {
        guard theirs <= lamport &+ maxLamportJump || lamport > UInt64.max - maxLamportJump else {
            replicated.stats.recordsInvalid += 1
            return false
        }
        guard replicated.eventsSeen.insert(id) else {
            replicated.stats.eventsRedundant += 1
            return false
        }
        compactEventsSeen(id.origin)
        replicated.lamport = max(replicated.lamport, theirs)
        return true
    }

    // MARK: User events

    /// Broadcast a user event. It is emitted as `.persist(.event)` at once; it is buffered,
    /// delivered here (`.userEvent`) and sent once the driver reports it durable with
    /// `eventsDurable(through:)`, and dropped if it could not be (`eventsFailed(through:)`).
    public mutating func event(_ name: String, payload: [UInt8], coalesce: Bool = false, now: Instant) -> (
        Result<UserEvent, StateError>, [Effect]
    ) {
        if Self.isReservedName(name) { return (.failure(.reservedName(name)), flush()) }
        advance(to: now)
        if let refusal = broadcastRefusal(name: name, payload: payload) { return (.failure(refusal), flush()) }
        let next = replicated.nextBroadcastID(origin: me.id)
        var e = UserEvent(id: next.id, lamport: next.lamport, name: name, payload: payload, coalesce: coalesce)
        e.signature = sign(SignedClaim.event(e))
        var local = Inbound.local
        applyEvent(e, replayed: false, untilDurable: true, &local)
        return (.success(e), flush())
    }

    /// Take in an event (a peer's, or `untilDurable` our own: held until its log entry is).
    mutating func applyEvent(_ e: UserEvent, replayed: Bool, untilDurable: Bool = false, _ inbound: inout Inbound) {
        // A peer's event within the limits a local one keeps: named, payload bounded.
        guard ReplicatedState.limitError(name: e.name, payload: e.payload, settings) == nil else {
            replicated.stats.recordsInvalid += 1
            inbound.learned = .invalid
            return
        }
        if authenticates && !replicated.eventsSeen.contains(e.id)
            && !verified(e.signature, of: SignedClaim.event(e), origin: e.id.origin, blame: inbound.sender)
        {
            return
        }
        guard admitBroadcast(id: e.id, lamport: e.lamport) else { return }
        // No Lamport window (Serf drops events more than its buffer behind its clock, since it
        // dedupes by Lamport time): events are deduped by id (`admitBroadcast`), and a window
        // let any member with a valid key make every honest event in flight "history" by
        // sending one event far ahead (the byzantine scenario found it: 1 % of broadcasts lost).
        if e.coalesce, let newest = replicated.latestCoalesced[e.name],
            (newest.lamport, newest.id) > (e.lamport, e.id)
        {
            replicated.stats.eventsRedundant += 1
            return
        }
        replicated.stats.eventsReceived += 1
        out.append(.persist(.event(e)))
        if untilDurable {
            replicated.awaitingEvents.append(e)
            return
        }
        deliverEvent(e, replayed: replayed, &inbound)
    }

    /// Buffer an admitted event, deliver it here and pass it on (unless replayed).
    mutating func deliverEvent(_ e: UserEvent, replayed: Bool, _ inbound: inout Inbound) {
        bufferEvent(e)
        emit(.userEvent(e, replayed: replayed))
        if !replayed { enqueue(.event(e), &inbound) }
    }

    mutating func bufferEvent(_ e: UserEvent) {
        if e.coalesce {
            replicated.latestCoalesced[e.name] = e
            replicated.recentEvents.removeAll { $0.coalesce && $0.name == e.name }
        }
        replicated.recentEvents.append(e)
        if recentEvents.count > settings.eventBufferSize {
            replicated.recentEvents.removeFirst(replicated.recentEvents.count - settings.eventBufferSize)
        }
    }

    /// Bound the dedupe set: out-of-order ids older than the buffer are treated as seen.
    mutating func compactEventsSeen(_ origin: NodeID) {
        let o = replicated.eventsSeen[origin]
        let limit = settings.eventBufferSize
        if o.extras.count > limit {
            replicated.eventsSeen.advance(origin, through: o.extras[o.extras.count - limit - 1])
        }
    }

    // MARK: Queries

    /// Send a query under any name (the public entry points are in ReservedNames.swift).
    mutating func startQuery(
        _ name: String, payload: [UInt8], filter: QueryFilter, timeout: Duration, now: Instant
    ) -> (Result<Query, StateError>, [Effect]) {
        advance(to: now)
        if let refusal = broadcastRefusal(name: name, payload: payload) { return (.failure(refusal), flush()) }
        let ms = timeout.wholeMilliseconds
        let maxMs = settings.maxQueryTimeout.wholeMilliseconds
        guard ms >= 1 && ms <= maxMs else { return (.failure(.timeoutOutOfRange(ms: ms, max: maxMs)), flush()) }
        let next = replicated.nextBroadcastID(origin: me.id)
        var q = Query(
            id: next.id, lamport: next.lamport, name: name, payload: payload,
            filter: filter, asker: me.address, timeoutMs: UInt32(ms))
        q.signature = sign(SignedClaim.query(q))
        replicated.pendingQueries[next.id.counter] = PendingQuery(id: q.id)
        timers.schedule(.state(.queryDeadline(next.id.counter)), at: now + timeout)
        var local = Inbound.local
        applyQuery(q, &local)
        return (.success(q), flush())
    }

    mutating func applyQuery(_ q: Query, _ inbound: inout Inbound) {
        guard ReplicatedState.limitError(name: q.name, payload: q.payload, settings) == nil else {
            replicated.stats.recordsInvalid += 1
            inbound.learned = .invalid
            return
        }
        if authenticates && !replicated.eventsSeen.contains(q.id)
            && !verified(q.signature, of: SignedClaim.query(q), origin: q.id.origin, blame: inbound.sender)
        {
            return
        }
        guard admitBroadcast(id: q.id, lamport: q.lamport) else { return }
        enqueue(.query(q), &inbound)
        guard q.filter.matches(me) else { return }
        if ColonyQuery(q) == .forceLeave { return onForceLeave(q) }
        emit(.queryReceived(q))
    }

    /// Answer a query this node received: sent straight to the asker.
    public mutating func respond(to q: Query, payload: [UInt8], now: Instant) -> [Effect] {
        advance(to: now)
        answerQuery(q, payload: payload)
        return flush()
    }

    /// Send the answer to `q` (the core's own answers to internal queries come here too).
    mutating func answerQuery(_ q: Query, payload: [UInt8]) {
        guard phase == .active || phase == .leaving else { return }
        replicated.stats.queriesAnswered += 1
        let r = QueryResponse(query: q.id, from: me.id, name: me.name, payload: payload)
        if q.id.origin == me.id { return onQueryResponse(r) }
        // Answers go to the asking member's own address, never to one the query names: a
        // query could otherwise make the swarm send bytes to any host and port.
        guard let asker = table[q.id.origin]?.member, asker.status.isLive else {
            trust.stats.queriesFromStrangersUnanswered += 1
            return
        }
        let packet = Packet(from: me.id, message: .queryResponse(r))
        let peer = asker.peer
        out.append(
            .send(packet, to: peer, via: Wire.size(of: packet) <= settings.maxDatagramBytes ? .datagram : .stream))
    }

    mutating func onQueryResponse(_ r: QueryResponse) {
        guard r.query.origin == me.id, var p = replicated.pendingQueries[r.query.counter] else { return }
        if p.responders.contains(r.from) { return }
        p.responders.append(r.from)
        replicated.pendingQueries[r.query.counter] = p
        emit(.queryResponse(r))
    }

    mutating func onQueryDeadline(counter: UInt64) {
        guard let p = replicated.pendingQueries.removeValue(forKey: counter) else { return }
        emit(.queryFinished(p.id))
    }
}
