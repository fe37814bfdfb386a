import HashTreeCollections

/// Why a write, event or query was refused. Each says what limit was hit.
public enum StateError: Error, Equatable, Sendable, CustomStringConvertible {
    case notActive
    case emptyKey
    case keyTooLong(bytes: Int, max: Int)
    case valueTooLarge(bytes: Int, max: Int)
    case nodeBudgetExceeded(used: Int, adding: Int, max: Int)
    case swarmBudgetExceeded(used: Int, adding: Int, max: Int)
    case emptyName
    /// Names starting with `_colony` belong to Colony's own queries and events.
    case reservedName(String)
    /// Not signed by this swarm's authority (or admission is off).
    case invalidRevocation
    case payloadTooLarge(bytes: Int, max: Int)
    case timeoutOutOfRange(ms: Int64, max: Int64)
    /// The write counter reached its ceiling (only a forged record could cause it).
    case counterExhausted

    public var description: String {
        switch self {
        case .notActive: "the node is not running (start it, or it has left)"
        case .emptyKey: "keys must not be empty"
        case .keyTooLong(let b, let m): "key is \(b) bytes; the limit is \(m)"
        case .valueTooLarge(let b, let m): "value is \(b) bytes; the limit is \(m)"
        case .nodeBudgetExceeded(let u, let a, let m):
            "this node's state budget is full: \(u) bytes held + \(a) > \(m) (delete keys or raise max_bytes_per_node)"
        case .swarmBudgetExceeded(let u, let a, let m):
            "the swarm's state budget is full: \(u) bytes held + \(a) > \(m) (delete keys or raise max_state_bytes)"
        case .emptyName: "names must not be empty"
        case .reservedName(let n): "the name '\(n)' is reserved (names starting with _colony are Colony's own)"
        case .invalidRevocation: "the revocation is not signed by this swarm's authority (or admission is off)"
        case .payloadTooLarge(let b, let m): "payload is \(b) bytes; the limit is \(m)"
        case .timeoutOutOfRange(let t, let m): "timeout \(t) ms is outside 1…\(m) ms"
        case .counterExhausted:
            "this node's write counter is exhausted (a forged record claimed a huge counter); start it with a new identity"
        }
    }
}

/// Counters a peer may claim. Far beyond any real history (a node writing a million records
/// a second takes 146,000 years to get there), so anything above is forged or corrupt and is
/// ignored rather than allowed to exhaust a counter.
let maxCounter: UInt64 = 1 << 62
/// How far ahead of our Lamport time an event may claim to be.
let maxLamportJump: UInt64 = 1 << 40
/// How far ahead of our wall clock a record's hybrid time may be and still move our clock.
let maxClockDriftMs: UInt64 = 3_600_000

struct PendingQuery: Sendable {
    var id: Dot
    var responders: [NodeID] = []
}

/// Replicated key-value state (dotted version vectors, Scuttlebutt anti-entropy), user
/// events and queries — DESIGN.md §4.
extension NodeCore {
    // MARK: Wall time

    /// Wall-clock milliseconds now, extrapolated from the last reading a driver handed in.
    var wallMs: UInt64 {
        let elapsed = max(0, now.nanoseconds(since: wallAnchorAt)) / 1_000_000
        return wallAnchorMs &+ UInt64(elapsed)
    }

    /// Tell the core the wall-clock time (ms since the epoch) at `now`, for hybrid clocks.
    public mutating func anchorWallClock(ms: UInt64, now: Instant) {
        advance(to: now)
        anchorWall(ms)
    }

    mutating func anchorWall(_ ms: UInt64) {
        wallAnchorMs = ms
        wallAnchorAt = now
    }

    // MARK: Key-value API

    public func get(_ key: String) -> ReadResult { state.read(key) }

    /// Write `value` (nil deletes) to `key`. With a `context` from an earlier `get`, the write
    /// supersedes exactly what that read saw and stays a sibling of anything else (dotted
    /// version vectors). With no context it supersedes every sibling this node holds now
    /// (the last-writer-wins convenience). The record is applied here at once and emitted as
    /// `.persist(.record)`; it is sent to nobody until the driver reports it durable with
    /// `recordsDurable(through:)`.
    public mutating func put(
        _ key: String, value: [UInt8]?, context: CausalContext? = nil, wallMs: UInt64, now: Instant
    ) -> (Result<StateRecord, StateError>, [Effect]) {
        if key.hasPrefix(Self.reservedKeyPrefix) { return (.failure(.reservedName(key)), flush()) }
        return write(key, value: value, context: context, wallMs: wallMs, now: now)
    }

    /// Keys under this prefix belong to Colony (revocations); users cannot write them.
    public static let reservedKeyPrefix = "_colony/"

    mutating func write(_ key: String, value: [UInt8]?, context: CausalContext?, wallMs: UInt64, now: Instant) -> (
        Result<StateRecord, StateError>, [Effect]
    ) {
        advance(to: now)
        anchorWall(wallMs)
        return (writeRecord(key, value: value, context: context), flush())
    }

    /// A write at the current wall time, inside an input (effects stay queued).
    mutating func writeRecord(_ key: String, value: [UInt8]?, context: CausalContext?) -> Result<
        StateRecord, StateError
    > {
        guard phase == .active || phase == .leaving else { return .failure(.notActive) }
        guard writeCounter < maxCounter else { return .failure(.counterExhausted) }
        let keyBytes = key.utf8.count
        if keyBytes == 0 { return .failure(.emptyKey) }
        if keyBytes > settings.maxKeyBytes { return .failure(.keyTooLong(bytes: keyBytes, max: settings.maxKeyBytes)) }
        if let v = value, v.count > settings.maxValueBytes {
            return .failure(.valueTooLarge(bytes: v.count, max: settings.maxValueBytes))
        }
        let current = state.keyState(key)
        let currentContext = current?.context ?? CausalContext()
        let ctx = context ?? currentContext
        writeCounter += 1
        var record = StateRecord(
            key: key, value: value, dot: Dot(origin: me.id, counter: writeCounter),
            prev: currentContext.latest(of: me.id), context: ctx,
            timestamp: hlc.now(wallMs: wallMs))
        record.signature = sign(SignedClaim.record(record))
        // Budgets: count what the write adds net of what it supersedes here.
        let freed = (current?.siblings ?? []).filter { ctx.covers($0.dot) }
        let adding = record.footprint
        let freedMine = freed.filter { $0.dot.origin == me.id }.reduce(0) { $0 + $1.footprint }
        let freedAll = freed.reduce(0) { $0 + $1.footprint }
        if value != nil {
            let mine = state.bytes(of: me.id) - freedMine
            if mine + adding > settings.maxBytesPerNode {
                writeCounter -= 1
                return .failure(.nodeBudgetExceeded(used: mine, adding: adding, max: settings.maxBytesPerNode))
            }
            let all = state.bytes - freedAll
            if all + adding > settings.maxStateBytes {
                writeCounter -= 1
                return .failure(.swarmBudgetExceeded(used: all, adding: adding, max: settings.maxStateBytes))
            }
        }
        switch state.apply(record, now: now) {
        case .applied(let superseded):
            stats.recordsApplied += 1
            let change = KeyChange(
                record: record, superseded: superseded.map(\.dot),
                siblings: state.keyState(key)?.siblings.count ?? 0, local: true)
            out.append(.persist(.record(change)))
            emit(.keyChanged(change))
        case .duplicate, .obsolete:
            // Cannot happen for a fresh dot: logged all the same, nothing to announce.
            let siblings = state.keyState(key)?.siblings.count ?? 0
            out.append(.persist(.record(KeyChange(record: record, superseded: [], siblings: siblings, local: true))))
        }
        awaitingDurability.append(record)
        return .success(record)
    }

    /// The driver made this node's writes up to `counter` durable: they may now be sent.
    public mutating func recordsDurable(through counter: UInt64, now: Instant) -> [Effect] {
        advance(to: now)
        guard counter > durableCounter else { return flush() }
        durableCounter = counter
        var i = 0
        while i < awaitingDurability.count && awaitingDurability[i].dot.counter <= counter {
            if phase == .active || phase == .leaving {
                enqueue(.record(awaitingDurability[i]))
                noticeEvicted(awaitingDurability[i])
            }
            i += 1
        }
        awaitingDurability.removeFirst(i)
        return flush()
    }

    /// Rebuild state from a durable log at start (before `start`): records in any order,
    /// events for the Lamport clock and the buffer. Emits nothing.
    public mutating func restore(records: [StateRecord], events: [UserEvent]) {
        var restoredEvictions: Set<NodeID> = []
        for r in records {
            noteEvidence(r)
            if let rev = revocation(in: r) { revoked.insert(rev.id) }
            if let e = eviction(in: r, verify: false) { restoredEvictions.insert(e.id) }
            hlc.observe(r.timestamp, wallMs: 0)
            if r.dot.origin == me.id { writeCounter = max(writeCounter, r.dot.counter) }
            state.apply(r, now: now)
        }
        durableCounter = writeCounter
        for id in restoredEvictions { refreshEviction(id, quietly: true) }
        for e in events {
            lamport = max(lamport, e.lamport)
            if e.id.origin == me.id { eventCounter = max(eventCounter, e.id.counter) }
            if eventsSeen.insert(e.id) { bufferEvent(e) }
        }
    }

    mutating func applyRecord(_ r: StateRecord, regossip: Bool = true) {
        guard r.dot.counter > 0, r.dot.counter < maxCounter, r.prev < r.dot.counter else {
            stats.recordsInvalid += 1
            return
        }
        // Only the origin can sign its records; checked before the dot counts as seen (and
        // before it moves any counter), so a forgery cannot shadow the real record.
        if authenticates && !state.seen.contains(r.dot)
            && !verified(r.signature, of: SignedClaim.record(r), origin: r.dot.origin)
        {
            return
        }
        var evicted: NodeID?
        if r.key.hasPrefix(Self.reservedKeyPrefix) {
            // Colony's own keys: only valid revocations and evictions, never deleted.
            if let rev = revocation(in: r) {
                applyRevocation(rev)
            } else if let e = eviction(in: r, verify: !state.seen.contains(r.dot)) {
                evicted = e.id
            } else {
                stats.recordsInvalid += 1
                if let s = currentSender { penalize(s, .invalidSignature) }
                return
            }
        }
        defer { if let evicted { refreshEviction(evicted) } }
        noteEvidence(r)
        // Our own records come back from peers; what we hold already is a duplicate.
        if r.dot.origin == me.id && r.dot.counter > writeCounter {
            // A record of ours we do not remember (a restart lost it before the log held
            // it cannot happen: unsent until durable). Keep counters ahead of it anyway.
            writeCounter = r.dot.counter
            durableCounter = max(durableCounter, r.dot.counter)
        }
        if r.timestamp.physicalMs <= wallMs &+ maxClockDriftMs { hlc.observe(r.timestamp, wallMs: wallMs) }
        switch state.apply(r, now: now) {
        case .duplicate:
            stats.recordsRedundant += 1
        case .obsolete:
            stats.recordsRedundant += 1
            out.append(.persist(.covered(r)))
        case .applied(let superseded):
            stats.recordsApplied += 1
            let change = KeyChange(
                record: r, superseded: superseded.map(\.dot),
                siblings: state.keyState(r.key)?.siblings.count ?? 0, local: false)
            out.append(.persist(.record(change)))
            emit(.keyChanged(change))
            // Gossip passes news on, including what anti-entropy brings (writes that gossip
            // missed, e.g. across a healed partition) — but not a joiner's download of old
            // state: re-broadcasting that would resend the whole download.
            if regossip { enqueue(.record(r)) }
        }
    }

    mutating func onStateCollectTick() {
        timers.schedule(.stateCollect, at: now + settings.reapInterval)
        let horizon = now.advanced(byNanoseconds: -settings.tombstoneGrace.nanosecondsInt64)
        let collected = state.collectTombstones(before: horizon)
        if !collected.isEmpty {
            out.append(.persist(.collected(collected)))
            emit(.keysCollected(collected))
        }
    }

    // MARK: Scuttlebutt anti-entropy

    mutating func onStateSyncTick() {
        timers.schedule(
            .stateSync, at: now.advanced(byNanoseconds: settings.stateSyncNanoseconds(members: table.liveCount)))
        guard phase == .active else { return }
        swap(&rng, &stateRng)
        let peer = randomMembers(1, filter: { $0.member.status == .alive }).first
        swap(&rng, &stateRng)
        if let peer { startStateSync(with: peer.peer) }
    }

    mutating func startStateSync(with peer: Peer, catchUp: Bool = false) {
        let e = nextSeq()
        exchanges[e] = Exchange(kind: .state, peer: peer, startedAt: now, catchUp: catchUp)
        timers.schedule(.exchangeTimeout(e), at: now + settings.streamTimeout)
        stats.stateSyncsStarted += 1
        sendStream(.stateRoot(exchange: e, root: state.seen.rootHash), to: peer)
        // Events too: gossip alone leaves an epidemic's tail. The peer sends what we lack,
        // and lists its own if it lacks any of ours.
        if !catchUp && !recentEvents.isEmpty {
            sendStream(.eventIDs(exchange: e, ids: recentEvents.map(\.id), isReply: false), to: peer)
        }
    }

    /// Records a peer with `digest` lacks, holding back our writes that are not durable yet.
    func recordsMissing(for digest: [DigestEntry]) -> (records: [StateRecord], through: [Dot], complete: Bool) {
        var answer = state.missing(for: digest, budget: settings.maxSyncRecordBytes)
        if writeCounter > durableCounter {
            answer.records.removeAll { $0.dot.origin == me.id && $0.dot.counter > durableCounter }
            answer.through = answer.through.map {
                $0.origin == me.id ? Dot(origin: me.id, counter: min($0.counter, durableCounter)) : $0
            }
        }
        return answer
    }

    mutating func applySynced(_ records: [StateRecord], through: [Dot], regossip: Bool = true) {
        stats.stateRecordsSynced += records.count
        for r in records { applyRecord(r, regossip: regossip) }
        var marks = through.filter { $0.counter < maxCounter }
        if authenticates {
            // "Complete through c" skips counters nobody holds any more (superseded). Taken on
            // a peer's word it could hide real records, so it reaches only as far as signed
            // evidence: a verified record of the origin, or a verified context covering it.
            marks = marks.map { Dot(origin: $0.origin, counter: min($0.counter, evidenced[$0.origin] ?? 0)) }
        }
        state.advance(marks)
    }

    /// What a verified record proves existed: its own dot, and what its context covers.
    mutating func noteEvidence(_ r: StateRecord) {
        guard authenticates else { return }
        if r.dot.counter > evidenced[r.dot.origin] ?? 0 { evidenced[r.dot.origin] = r.dot.counter }
        for e in r.context.base.entries where e.counter > evidenced[e.origin] ?? 0 && e.counter < maxCounter {
            evidenced[e.origin] = e.counter
        }
    }

    mutating func onStateSync(_ sync: Sync, from sender: Peer) {
        switch sync {
        case .stateRoot(let e, let root):
            if root == state.seen.rootHash {
                sendStream(.inSync(exchange: e), to: sender)
            } else {
                sendStream(.stateDigest(exchange: e, digest: state.seen.digest), to: sender)
            }
        case .stateDigest(let e, let digest):
            guard let x = exchanges[e], x.kind == .state else { return }
            let answer = recordsMissing(for: digest)
            sendStream(
                .stateRecords(
                    exchange: e, records: answer.records, through: answer.through, complete: answer.complete,
                    digest: state.seen.digest), to: sender)
        case .stateRecords(let e, let records, let through, let complete, let digest):
            if let digest {
                // Step 3 arrived at the peer: take what we lacked, answer with what it lacks.
                applySynced(records, through: through)
                let answer = recordsMissing(for: digest)
                sendStream(
                    .stateRecords(
                        exchange: e, records: answer.records, through: answer.through, complete: answer.complete,
                        digest: nil), to: sender)
                if !complete { startStateSync(with: sender) }
            } else {
                guard let x = exchanges.removeValue(forKey: e), x.kind == .state else { return }
                applySynced(records, through: through, regossip: !x.catchUp)
                if !complete { startStateSync(with: x.peer, catchUp: x.catchUp) }
            }
        default:
            break
        }
    }

    // MARK: Events and queries: ids and Lamport time

    /// Why a new event or query cannot be sent, if it cannot.
    func broadcastRefusal(name: String, payload: [UInt8]) -> StateError? {
        if phase != .active { return .notActive }
        if name.isEmpty { return .emptyName }
        if payload.count > settings.maxEventPayloadBytes {
            return .payloadTooLarge(bytes: payload.count, max: settings.maxEventPayloadBytes)
        }
        return nil
    }

    /// The id and Lamport time of the next event or query this node sends.
    mutating func nextBroadcastID() -> (id: Dot, lamport: UInt64) {
        eventCounter &+= 1
        lamport &+= 1
        return (Dot(origin: me.id, counter: eventCounter), lamport)
    }

    /// Admit an event or query from anyone (ourselves included): false if its Lamport time
    /// is an impossible jump or it was seen before. Moves our Lamport clock.
    mutating func admitBroadcast(id: Dot, lamport theirs: UInt64) -> Bool {
        guard theirs <= lamport &+ maxLamportJump || lamport > UInt64.max - maxLamportJump else {
            stats.recordsInvalid += 1
            return false
        }
        guard eventsSeen.insert(id) else {
            stats.eventsRedundant += 1
            return false
        }
        compactEventsSeen(id.origin)
        lamport = max(lamport, theirs)
        return true
    }

    // MARK: User events

    /// Broadcast a user event. It is also delivered here (`.userEvent`).
    public mutating func event(_ name: String, payload: [UInt8], coalesce: Bool = false, now: Instant) -> (
        Result<UserEvent, StateError>, [Effect]
    ) {
        if Self.isReservedName(name) { return (.failure(.reservedName(name)), flush()) }
        advance(to: now)
        if let refusal = broadcastRefusal(name: name, payload: payload) { return (.failure(refusal), flush()) }
        let next = nextBroadcastID()
        var e = UserEvent(id: next.id, lamport: next.lamport, name: name, payload: payload, coalesce: coalesce)
        e.signature = sign(SignedClaim.event(e))
        applyEvent(e, replayed: false)
        return (.success(e), flush())
    }

    mutating func applyEvent(_ e: UserEvent, replayed: Bool) {
        if authenticates && !eventsSeen.contains(e.id)
            && !verified(e.signature, of: SignedClaim.event(e), origin: e.id.origin)
        {
            return
        }
        guard admitBroadcast(id: e.id, lamport: e.lamport) else { return }
        // Serf's window: events older than the buffer are history, not news.
        if lamport > UInt64(settings.eventBufferSize) && e.lamport < lamport - UInt64(settings.eventBufferSize) {
            stats.eventsRedundant += 1
            return
        }
        if e.coalesce, let newest = latestCoalesced[e.name],
            (newest.lamport, newest.id) > (e.lamport, e.id)
        {
            stats.eventsRedundant += 1
            return
        }
        stats.eventsReceived += 1
        out.append(.persist(.event(e)))
        bufferEvent(e)
        emit(.userEvent(e, replayed: replayed))
        if !replayed { enqueue(.event(e)) }
    }

    mutating func bufferEvent(_ e: UserEvent) {
        if e.coalesce {
            latestCoalesced[e.name] = e
            recentEvents.removeAll { $0.coalesce && $0.name == e.name }
        }
        recentEvents.append(e)
        if recentEvents.count > settings.eventBufferSize {
            recentEvents.removeFirst(recentEvents.count - settings.eventBufferSize)
        }
    }

    /// Bound the dedupe set: out-of-order ids older than the buffer are treated as seen.
    mutating func compactEventsSeen(_ origin: NodeID) {
        let o = eventsSeen[origin]
        let limit = settings.eventBufferSize
        if o.extras.count > limit {
            eventsSeen.advance(origin, through: o.extras[o.extras.count - limit - 1])
        }
    }

    // MARK: Queries

    /// Send a query under any name (the public entry points are in ReservedNames.swift).
    mutating func startQuery(
        _ name: String, payload: [UInt8], filter: QueryFilter, timeout: Duration, now: Instant
    ) -> (Result<Query, StateError>, [Effect]) {
        advance(to: now)
        if let refusal = broadcastRefusal(name: name, payload: payload) { return (.failure(refusal), flush()) }
        let ms = timeout.nanosecondsInt64 / 1_000_000
        let maxMs = settings.maxQueryTimeout.nanosecondsInt64 / 1_000_000
        guard ms >= 1 && ms <= maxMs else { return (.failure(.timeoutOutOfRange(ms: ms, max: maxMs)), flush()) }
        let next = nextBroadcastID()
        var q = Query(
            id: next.id, lamport: next.lamport, name: name, payload: payload,
            filter: filter, asker: me.address, timeoutMs: UInt32(ms))
        q.signature = sign(SignedClaim.query(q))
        pendingQueries[next.id.counter] = PendingQuery(id: q.id)
        timers.schedule(.queryDeadline(next.id.counter), at: now + timeout)
        applyQuery(q)
        return (.success(q), flush())
    }

    mutating func applyQuery(_ q: Query) {
        if authenticates && !eventsSeen.contains(q.id)
            && !verified(q.signature, of: SignedClaim.query(q), origin: q.id.origin)
        {
            return
        }
        guard admitBroadcast(id: q.id, lamport: q.lamport) else { return }
        enqueue(.query(q))
        if q.filter.matches(me) { emit(.queryReceived(q)) }
    }

    /// Answer a query this node received: sent straight to the asker.
    public mutating func respond(to q: Query, payload: [UInt8], now: Instant) -> [Effect] {
        advance(to: now)
        guard phase == .active || phase == .leaving else { return flush() }
        stats.queriesAnswered += 1
        let r = QueryResponse(query: q.id, from: me.id, name: me.name, payload: payload)
        if q.id.origin == me.id {
            onQueryResponse(r)
            return flush()
        }
        let packet = Packet(from: me.id, message: .queryResponse(r))
        let peer = Peer(id: q.id.origin, address: q.asker)
        out.append(
            .send(packet, to: peer, via: Wire.size(of: packet) <= settings.maxDatagramBytes ? .datagram : .stream))
        return flush()
    }

    mutating func onQueryResponse(_ r: QueryResponse) {
        guard r.query.origin == me.id, var p = pendingQueries[r.query.counter] else { return }
        if p.responders.contains(r.from) { return }
        p.responders.append(r.from)
        pendingQueries[r.query.counter] = p
        emit(.queryResponse(r))
    }

    mutating func onQueryDeadline(counter: UInt64) {
        guard let p = pendingQueries.removeValue(forKey: counter) else { return }
        emit(.queryFinished(p.id))
    }
}
