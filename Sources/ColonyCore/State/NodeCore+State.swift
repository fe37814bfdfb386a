import HashTreeCollections

struct PendingQuery: Sendable {
    var id: Dot
    var responders: [NodeID] = []
}

/// Replicated key-value state (dotted version vectors, Scuttlebutt anti-entropy), user
/// events and queries — docs/design.md §4.
extension NodeCore {
    // MARK: Wall time

    /// Wall-clock milliseconds now, extrapolated from the last reading a driver handed in.
    var wallMs: UInt64 {
        let elapsed = max(.zero, now - replicated.wallAnchorAt)
        return replicated.wallAnchorMs &+ UInt64(elapsed.wholeMilliseconds)
    }

    /// Tell the core the wall-clock time (ms since the epoch) at `now`, for hybrid clocks.
    public mutating func anchorWallClock(ms: UInt64, now: Instant) {
        advance(to: now)
        anchorWall(ms)
    }

    mutating func anchorWall(_ ms: UInt64) {
        replicated.wallAnchorMs = ms
        replicated.wallAnchorAt = now
    }

    // MARK: Key-value API

    public func get(_ key: String) -> ReadResult { state.read(key) }

    /// Write `value` (nil deletes) to `key`. With a `context` from an earlier `get`, the write
    /// supersedes exactly what that read saw and stays a sibling of anything else (dotted
    /// version vectors). With no context it supersedes every sibling this node holds now
    /// (the last-writer-wins convenience). The record is applied here at once and emitted as
    /// `.persist(.record)`; it is announced (`.keyChanged`) and sent to nobody until the driver
    /// reports it durable with `recordsDurable(through:)`, and undone if the driver reports
    /// that it could not be made durable (`recordsFailed(through:)`).
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
        guard replicated.writeCounter < maxCounter else { return .failure(.counterExhausted) }
        if let e = ReplicatedState.limitError(key: key, value: value, settings) { return .failure(e) }
        let current = state.keyState(key)
        let currentContext = current?.context ?? CausalContext()
        let ctx = context ?? currentContext
        replicated.writeCounter += 1
        var record = StateRecord(
            key: key, value: value, dot: Dot(origin: me.id, counter: replicated.writeCounter),
            prev: currentContext.latest(of: me.id), context: ctx,
            timestamp: replicated.hlc.now(wallMs: wallMs))
        record.signature = sign(SignedClaim.record(record))
        // Budgets: count what the write adds net of what it supersedes here.
        if let over = replicated.budgetError(record, settings) {
            replicated.writeCounter -= 1
            return .failure(over)
        }
        switch replicated.store.apply(record, now: now) {
        case .applied(let superseded):
            replicated.stats.recordsApplied += 1
            let change = KeyChange(
                record: record, superseded: superseded.map(\.dot),
                siblings: state.keyState(key)?.siblings.count ?? 0, local: true)
            out.append(.persist(.record(change)))
            replicated.awaitingDurability.append(PendingWrite(record: record, superseded: superseded, change: change))
        case .duplicate, .obsolete:
            // Cannot happen for a fresh dot: logged all the same, nothing to announce.
            let siblings = state.keyState(key)?.siblings.count ?? 0
            out.append(.persist(.record(KeyChange(record: record, superseded: [], siblings: siblings, local: true))))
            replicated.awaitingDurability.append(PendingWrite(record: record, superseded: [], change: nil))
        }
        return .success(record)
    }

    /// Rebuild state from a durable log at start (before `start`): records in any order,
    /// events for the Lamport clock and the buffer. Emits nothing. A record dated more than
    /// `maxClockDriftMs` after `wallMs` (now, by the wall clock) is restored but does not move
    /// the hybrid clock: one written under a clock that ran ahead, or a corrupt row, would
    /// otherwise date every later write in the future. Returns how many records that was.
    @discardableResult
    public mutating func restore(records: [StateRecord], events: [UserEvent], wallMs: UInt64) -> Int {
        var restoredEvictions: Set<NodeID> = []
        var aheadOfClock = 0
        for r in records {
            if authenticates { replicated.noteEvidence(r) }
            if let rev = revocation(in: r) { trust.revoked.insert(rev.id) }
            if let e = eviction(in: r, verify: false, blame: nil) { restoredEvictions.insert(e.id) }
            if ReplicatedState.withinDrift(r.timestamp, wallMs: wallMs) {
                replicated.hlc.observe(r.timestamp, wallMs: 0)
            } else {
                aheadOfClock += 1
            }
            if r.dot.origin == me.id { replicated.writeCounter = max(replicated.writeCounter, r.dot.counter) }
            replicated.store.apply(r, now: now)
        }
        replicated.durableCounter = replicated.writeCounter
        var local = Inbound.local
        for id in restoredEvictions { refreshEviction(id, quietly: true, &local) }
        for e in events {
            replicated.lamport = max(replicated.lamport, e.lamport)
            if e.id.origin == me.id { replicated.eventCounter = max(replicated.eventCounter, e.id.counter) }
            if replicated.eventsSeen.insert(e.id) { bufferEvent(e) }
        }
        return aheadOfClock
    }

    mutating func applyRecord(_ r: StateRecord, regossip: Bool = true, _ inbound: inout Inbound) {
        guard ReplicatedState.isWellFormed(r), ReplicatedState.limitError(key: r.key, value: r.value, settings) == nil
        else {
            replicated.stats.recordsInvalid += 1
            inbound.learned = .invalid
            return
        }
        // Only the origin can sign its records; checked before the dot counts as seen (and
        // before it moves any counter), so a forgery cannot shadow the real record.
        if authenticates && !state.seen.contains(r.dot)
            && !verified(r.signature, of: SignedClaim.record(r), origin: r.dot.origin, blame: inbound.sender)
        {
            return
        }
        var evicted: NodeID?
        if r.key.hasPrefix(Self.reservedKeyPrefix) {
            // Colony's own keys: only valid revocations and evictions, deleted only by the
            // issuer of an eviction that is over.
            let fresh = !state.seen.contains(r.dot)
            if let rev = revocation(in: r) {
                applyRevocation(rev)
            } else if let e = eviction(in: r, verify: fresh, blame: inbound.sender) {
                // What the swarm asks beyond signatures depends on this node's view and clock:
                // refused and counted, nobody blamed (an honest relay may know more).
                if fresh, authenticates, let refusal = evictionRefusal(e) {
                    trust.stats.evictionsRefused[refusal, default: 0] += 1
                    inbound.learned = .invalid
                    return
                }
                evicted = e.id
            } else if let id = evictionDeletion(r) {
                evicted = id
            } else {
                replicated.stats.recordsInvalid += 1
                inbound.learned = .invalid
                if let s = inbound.sender { penalize(s, .invalidSignature) }
                return
            }
        }
        // A peer's record within the budgets a local write keeps (its origin's, the whole state's).
        if !state.seen.contains(r.dot), replicated.budgetError(r, settings) != nil {
            replicated.stats.recordsOverBudget += 1
            inbound.learned = .invalid
            return
        }
        defer { if let evicted { refreshEviction(evicted, &inbound) } }
        if authenticates { replicated.noteEvidence(r) }
        switch replicated.absorb(r, me: me.id, wallMs: wallMs, now: now) {
        case .duplicate:
            break
        case .obsolete:
            out.append(.persist(.covered(r)))
        case .applied(let superseded):
            let change = KeyChange(
                record: r, superseded: superseded.map(\.dot),
                siblings: state.keyState(r.key)?.siblings.count ?? 0, local: false)
            out.append(.persist(.record(change)))
            emit(.keyChanged(change))
            // Gossip passes news on, including what anti-entropy brings (writes that gossip
            // missed, e.g. across a healed partition) — but not a joiner's download of old
            // state: re-broadcasting that would resend the whole download.
            if regossip { enqueue(.record(r), &inbound) }
        }
    }

    mutating func onStateCollectTick() {
        timers.schedule(.state(.collect), at: now + settings.reapInterval)
        let horizon = now - settings.tombstoneGrace
        collectExpiredEvictions()
        let collected = replicated.store.collectTombstones(before: horizon)
        if !collected.isEmpty {
            out.append(.persist(.collected(collected)))
            emit(.keysCollected(collected))
        }
    }

    // MARK: Scuttlebutt anti-entropy

    mutating func onStateSyncTick() {
        timers.schedule(.state(.sync), at: now + settings.stateSyncPeriod(members: table.liveCount))
        guard phase == .active else { return }
        swap(&rng, &replicated.rng)
        let peer = randomMembers(1, filter: { $0.member.status == .alive }).first
        swap(&rng, &replicated.rng)
        if let peer { startStateSync(with: peer.peer) }
    }

    mutating func startStateSync(with peer: Peer, catchUp: Bool = false) {
        let e = membership.nextSeq()
        dissemination.exchanges[e] = Dissemination.Exchange(kind: .state, peer: peer, startedAt: now, catchUp: catchUp)
        timers.schedule(.dissemination(.exchangeTimeout(e)), at: now + settings.streamTimeout)
        replicated.stats.stateSyncsStarted += 1
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
        if replicated.writeCounter > durableCounter {
            answer.records.removeAll { $0.dot.origin == me.id && $0.dot.counter > durableCounter }
            answer.through = answer.through.map {
                $0.origin == me.id ? Dot(origin: me.id, counter: min($0.counter, durableCounter)) : $0
            }
        }
        return answer
    }

    mutating func applySynced(
        _ records: [StateRecord], through: [Dot], regossip: Bool = true, _ inbound: inout Inbound
    ) {
        replicated.stats.stateRecordsSynced += records.count
        for r in records { applyRecord(r, regossip: regossip, &inbound) }
        var marks = through.filter { $0.counter < maxCounter }
        if authenticates {
            // "Complete through c" skips counters nobody holds any more (superseded). Taken on
            // a peer's word it could hide real records, so it reaches only as far as signed
            // evidence: a verified record of the origin, or a verified context covering it.
            marks = marks.map { Dot(origin: $0.origin, counter: min($0.counter, replicated.evidenced[$0.origin] ?? 0)) }
        }
        replicated.store.advance(marks)
    }

    mutating func onStateSync(_ sync: Sync, from sender: Peer, _ inbound: inout Inbound) {
        switch sync {
        case .stateRoot(let e, let root):
            if root == state.seen.rootHash {
                sendStream(.inSync(exchange: e), to: sender)
            } else {
                sendStream(.stateDigest(exchange: e, digest: state.seen.digest), to: sender)
            }
        case .stateDigest(let e, let digest):
            guard let x = dissemination.exchanges[e], x.kind == .state else { return }
            let answer = recordsMissing(for: digest)
            sendStream(
                .stateRecords(
                    exchange: e, records: answer.records, through: answer.through, complete: answer.complete,
                    digest: state.seen.digest), to: sender)
        case .stateRecords(let e, let records, let through, let complete, let digest):
            if let digest {
                // Step 3 arrived at the peer: take what we lacked, answer with what it lacks.
                applySynced(records, through: through, &inbound)
                let answer = recordsMissing(for: digest)
                sendStream(
                    .stateRecords(
                        exchange: e, records: answer.records, through: answer.through, complete: answer.complete,
                        digest: nil), to: sender)
                if !complete { startStateSync(with: sender) }
            } else {
                guard let x = dissemination.exchanges.removeValue(forKey: e), x.kind == .state else { return }
                applySynced(records, through: through, regossip: !x.catchUp, &inbound)
                if !complete { startStateSync(with: x.peer, catchUp: x.catchUp) }
            }
        default:
            break
        }
    }
}
