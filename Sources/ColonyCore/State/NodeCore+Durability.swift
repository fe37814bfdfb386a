/// One of this node's writes, applied here, whose log entry is not durable yet: what undoing
/// it needs, and what announcing it needs.
struct PendingWrite: Sendable {
    var record: StateRecord
    /// The siblings it resolved here: back if it is undone.
    var superseded: [StateRecord]
    /// Peers' records that arrived already covered by it while it waited: back too.
    var covered: [StateRecord] = []
    /// Announced (`.keyChanged`) once durable; nil if the write changed nothing here.
    var change: KeyChange?
}

extension ReplicatedState {
    /// A peer's record arrived already covered by one of our writes still waiting for the log:
    /// if that write is undone, this record is what the key would have held.
    mutating func noteCoveredWhileWaiting(_ r: StateRecord) {
        let waiting = awaitingDurability.lastIndex { $0.record.key == r.key && $0.record.context.covers(r.dot) }
        if let i = waiting { awaitingDurability[i].covered.append(r) }
    }

    /// Undo `w`: its record leaves the store and what it resolved or covered comes back. If a
    /// later write still waiting resolved it already, that write takes over what `w` resolved
    /// (to bring back if it is undone too) instead of `w` itself.
    mutating func undo(_ w: PendingWrite, now: Instant) {
        let back = w.superseded + w.covered
        let held = store.retract(w.record, reinstating: back, now: now)
        for i in awaitingDurability.indices {
            guard let j = awaitingDurability[i].superseded.firstIndex(where: { $0.dot == w.record.dot }) else {
                continue
            }
            awaitingDurability[i].superseded.remove(at: j)
            if !held { awaitingDurability[i].superseded += back }
        }
        stats.writesUndone += 1
    }
}

/// The driver's answer to `.persist`: this node's own writes and events are announced and
/// sent only once their log entries are durable, and undone when the log could not take them
/// — so a write the caller was told failed leaves no trace here and reaches nobody.
/// The driver reports in log order; each call covers every own write (or event) up to a
/// counter.
extension NodeCore {
    /// The driver made this node's writes up to `counter` durable: they are announced
    /// (`.keyChanged`) and may now be sent.
    public mutating func recordsDurable(through counter: UInt64, now: Instant) -> [Effect] {
        advance(to: now)
        guard counter > durableCounter else { return flush() }
        replicated.durableCounter = counter
        var i = 0
        while i < replicated.awaitingDurability.count && replicated.awaitingDurability[i].record.dot.counter <= counter
        {
            let w = replicated.awaitingDurability[i]
            if let change = w.change { emit(.keyChanged(change)) }
            if phase == .active || phase == .leaving {
                var local = Inbound.local
                enqueue(.record(w.record), &local)
                noticeEvicted(w.record)
            }
            i += 1
        }
        replicated.awaitingDurability.removeFirst(i)
        return flush()
    }

    /// The driver could not make this node's writes up to `counter` durable (the log's commit
    /// failed): they are undone, newest first — what each resolved is held again, an eviction
    /// it wrote no longer counts — and never sent. Their counters stay used.
    public mutating func recordsFailed(through counter: UInt64, now: Instant) -> [Effect] {
        advance(to: now)
        var failed: [PendingWrite] = []
        while let w = replicated.awaitingDurability.first, w.record.dot.counter <= counter {
            failed.append(replicated.awaitingDurability.removeFirst())
        }
        var local = Inbound.local
        for w in failed.reversed() {
            replicated.undo(w, now: now)
            if w.record.key.hasPrefix(Eviction.keyPrefix), let v = w.record.value, let e = try? Eviction(decoding: v) {
                refreshEviction(e.id, &local)
            }
        }
        return flush()
    }

    /// The driver made this node's events up to `counter` durable: they are buffered,
    /// delivered here (`.userEvent`) and sent.
    public mutating func eventsDurable(through counter: UInt64, now: Instant) -> [Effect] {
        advance(to: now)
        var local = Inbound.local
        while let e = replicated.awaitingEvents.first, e.id.counter <= counter {
            replicated.awaitingEvents.removeFirst()
            // A newer event of its coalescing name may have arrived while it waited: then it
            // is not buffered, but still delivered and sent.
            let newer = replicated.latestCoalesced[e.name].map { ($0.lamport, $0.id) > (e.lamport, e.id) } ?? false
            if !(e.coalesce && newer) { bufferEvent(e) }
            emit(.userEvent(e, replayed: false))
            if phase == .active || phase == .leaving { enqueue(.event(e), &local) }
        }
        return flush()
    }

    /// The driver could not make this node's events up to `counter` durable: they are
    /// dropped, neither delivered nor sent. Their ids stay used.
    public mutating func eventsFailed(through counter: UInt64, now: Instant) -> [Effect] {
        advance(to: now)
        while let e = replicated.awaitingEvents.first, e.id.counter <= counter {
            replicated.awaitingEvents.removeFirst()
            replicated.stats.writesUndone += 1
        }
        return flush()
    }
}
