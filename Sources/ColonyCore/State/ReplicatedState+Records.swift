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

    /// A peer's record within the limits a local write must keep (`Settings.maxKeyBytes`,
    /// `maxValueBytes`): a peer cannot make this node hold what it would refuse to write.
    static func fitsLimits(_ r: StateRecord, _ settings: Settings) -> Bool {
        let keyBytes = r.key.utf8.count
        return keyBytes > 0 && keyBytes <= settings.maxKeyBytes && (r.value?.count ?? 0) <= settings.maxValueBytes
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
        if r.timestamp.physicalMs <= wallMs &+ maxClockDriftMs { hlc.observe(r.timestamp, wallMs: wallMs) }
        let outcome = store.apply(r, now: now)
        switch outcome {
        case .duplicate, .obsolete: stats.recordsRedundant += 1
        case .applied: stats.recordsApplied += 1
        }
        return outcome
    }
}
