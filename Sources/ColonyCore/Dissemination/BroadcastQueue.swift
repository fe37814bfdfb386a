import HashTreeCollections

/// The piggyback queue (memberlist's `TransmitLimitedQueue`, SWIM §4.1).
///
/// Each entry is the newest news about one subject: queuing news about a subject replaces
/// what was queued about it. Packets take entries least-transmitted first (newest first
/// among equals) until the byte budget is spent; an entry is dropped once it has been sent
/// `limit` times. Bounded: beyond `maxEntries` the most-sent, oldest entries go first.
public struct BroadcastQueue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var update: Update
        public var bytes: Int
        public var transmits: Int
        /// Insertion order; higher is newer.
        public var order: UInt64
    }

    public private(set) var entries: TreeDictionary<NodeID, Entry> = [:]
    private var nextOrder: UInt64 = 0
    public let maxEntries: Int

    public init(maxEntries: Int) { self.maxEntries = maxEntries }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// Queue news, superseding anything queued about the same subject.
    public mutating func enqueue(_ update: Update) {
        nextOrder += 1
        entries[update.subject] = Entry(update: update, bytes: Wire.size(of: update), transmits: 0, order: nextOrder)
        if entries.count > maxEntries { prune() }
    }

    public func contains(subject: NodeID) -> Bool { entries[subject] != nil }

    /// Take updates that fit in `budget` bytes, counting a transmission for each and
    /// retiring those that reached `limit`.
    public mutating func take(budget: Int, limit: Int) -> [Update] {
        guard !entries.isEmpty, budget > 0 else { return [] }
        var candidates = Array(entries.values)
        candidates.sort { l, r in l.transmits != r.transmits ? l.transmits < r.transmits : l.order > r.order }
        var remaining = budget
        var out: [Update] = []
        for var e in candidates {
            if e.bytes > remaining { continue }
            remaining -= e.bytes
            out.append(e.update)
            e.transmits += 1
            if e.transmits >= limit {
                entries.removeValue(forKey: e.update.subject)
            } else {
                entries[e.update.subject] = e
            }
            if remaining < 20 { break }
        }
        return out
    }

    private mutating func prune() {
        var all = Array(entries.values)
        all.sort { l, r in l.transmits != r.transmits ? l.transmits > r.transmits : l.order < r.order }
        for e in all.prefix(entries.count - maxEntries) {
            entries.removeValue(forKey: e.update.subject)
        }
    }
}
