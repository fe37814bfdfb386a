/// Taking in records from peers (docs/design.md §4), decided by the machine alone: which
/// records are possible at all, the evidence signed records give of what exists, and merging an
/// authenticated record into the store while keeping this node's counters and clock sound.
/// `NodeCore+State` checks signatures and reserved keys first and turns the outcome into effects.
extension ReplicatedState {
    /// A record's dot can exist: its counter in range (none beyond `maxCounter`, so none can
    /// exhaust a counter) and its predecessor before it.
    static func isWellFormed(_ r: StateRecord) -> Bool {
        r.dot.counter > 0 && r.dot.counter < maxCounter && r.prev < r.dot.counter
    }

    /// Why a write of `value` under `key` breaks the size limits (`Settings.maxKeyBytes`,
    /// `maxValueBytes`), if it does: one rule for local writes and for peers' records, so a peer
    /// cannot make this node hold what it would refuse to write.
    static func limitError(key: String, value: [UInt8]?, _ settings: Settings) -> StateError? {
        let keyBytes = key.utf8.count
        if keyBytes == 0 { return .emptyKey }
        if keyBytes > settings.maxKeyBytes { return .keyTooLong(bytes: keyBytes, max: settings.maxKeyBytes) }
        if let v = value, v.count > settings.maxValueBytes {
            return .valueTooLarge(bytes: v.count, max: settings.maxValueBytes)
        }
        return nil
    }

    /// Why taking in `r` would break a budget here, if it would: its origin's bytes
    /// (`maxBytesPerNode`) or the whole state's (`maxStateBytes`), net of what it supersedes
    /// here. One rule for our writes and peers' records (issue 18: a member's records cannot
    /// fill every node's memory); deletions always pass.
    func budgetError(_ r: StateRecord, _ settings: Settings) -> StateError? {
        guard r.value != nil else { return nil }
        let freed = (store.keyState(r.key)?.siblings ?? []).filter { r.context.covers($0.dot) }
        let adding = r.footprint
        let freedOrigin = freed.filter { $0.dot.origin == r.dot.origin }.reduce(0) { $0 + $1.footprint }
        let origin = store.bytes(of: r.dot.origin) - freedOrigin
        if origin + adding > settings.maxBytesPerNode {
            return .nodeBudgetExceeded(used: origin, adding: adding, max: settings.maxBytesPerNode)
        }
        let all = store.bytes - freed.reduce(0) { $0 + $1.footprint }
        if all + adding > settings.maxStateBytes {
            return .swarmBudgetExceeded(used: all, adding: adding, max: settings.maxStateBytes)
        }
        return nil
    }

    /// Why an event or query named `name` carrying `payload` breaks the limits, if it does (one
    /// rule for our own and peers').
    static func limitError(name: String, payload: [UInt8], _ settings: Settings) -> StateError? {
        if name.isEmpty { return .emptyName }
        if payload.count > settings.maxEventPayloadBytes {
            return .payloadTooLarge(bytes: payload.count, max: settings.maxEventPayloadBytes)
        }
        return nil
    }

    /// Remember the highest counter per origin that an authenticated record and its context
    /// show existed.
    mutating func noteEvidence(_ r: StateRecord) {
        if r.dot.counter > evidenced[r.dot.origin] ?? 0 {
            evidenced[r.dot.origin] = r.dot.counter
        }
        for e in r.context.base.entries where e.counter > evidenced[e.origin] ?? 0 && e.counter < maxCounter {
            evidenced[e.origin] = e.counter
        }
    }

    /// Merge record `r` (authenticated already) into the store and count the outcome. A record
    /// of ours (`me`) we do not remember keeps our counters ahead of it; the hybrid clock
    /// observes the record's time unless it is dated beyond `maxClockDriftMs` of `wallMs`.
    mutating func absorb(_ r: StateRecord, me: NodeID, wallMs: UInt64, now: Instant) -> StateStore.Outcome {
        if r.dot.origin == me && r.dot.counter > writeCounter {
            // A restart cannot lose a record the log did not hold (unsent until durable); keep
            // the counters ahead of it anyway.
            writeCounter = r.dot.counter
            durableCounter = max(durableCounter, r.dot.counter)
        }
        if Self.withinDrift(r.timestamp, wallMs: wallMs) { hlc.observe(r.timestamp, wallMs: wallMs) }
        let outcome = store.apply(r, now: now)
        switch outcome {
        case .duplicate: stats.recordsRedundant += 1
        case .obsolete:
            stats.recordsRedundant += 1
            noteCoveredWhileWaiting(r)
        case .applied: stats.recordsApplied += 1
        }
        return outcome
    }
}
