/// The piggyback queue (memberlist's `TransmitLimitedQueue`, SWIM §4.1).
///
/// Each entry is the newest news about one subject: queuing news about a subject replaces
/// what was queued about it. Packets take entries least-transmitted first (newest first
/// among equals) until the byte budget is spent; an entry is dropped once it has been sent
/// `limit` times. Bounded: beyond `maxEntries` the most-sent, oldest entries go first.
///
/// Entries sit in levels by transmit count, each level ordered by insertion, so taking `k`
/// entries costs O(k log q) rather than a sort of the whole queue per packet.
public struct BroadcastQueue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var update: Update
        public var bytes: Int
        public var transmits: Int
        /// Insertion order; higher is newer.
        public var order: UInt64
    }

    /// subject → entry. Looked up, never iterated (iteration order of a `Dictionary` is
    /// per-process; the levels carry the deterministic order).
    public private(set) var entries: [NodeID: Entry] = [:]
    /// levels[t]: (order, subject) of entries sent t times, ascending by order.
    private var levels: [[(order: UInt64, subject: NodeID)]] = [[]]
    private var nextOrder: UInt64 = 0
    public let maxEntries: Int

    public init(maxEntries: Int) { self.maxEntries = maxEntries }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// Queue news, superseding anything queued about the same subject.
    public mutating func enqueue(_ update: Update) {
        let subject = update.subject
        if let old = entries[subject] { removeFromLevel(old) }
        nextOrder += 1
        let e = Entry(update: update, bytes: Wire.size(of: update), transmits: 0, order: nextOrder)
        entries[subject] = e
        levels[0].append((nextOrder, subject))
        if entries.count > maxEntries { prune() }
    }

    public func contains(subject: NodeID) -> Bool { entries[subject] != nil }

    /// Take updates that fit in `budget` bytes, counting a transmission for each and
    /// retiring those that reached `limit`.
    public mutating func take(budget: Int, limit: Int) -> [Update] {
        guard !entries.isEmpty, budget > 0 else { return [] }
        var remaining = budget
        var out: [Update] = []
        var moved: [(level: Int, order: UInt64, subject: NodeID)] = []
        levelLoop: for t in levels.indices {
            var i = levels[t].count - 1
            while i >= 0 {
                let (order, subject) = levels[t][i]
                let e = entries[subject]!
                if e.bytes <= remaining {
                    remaining -= e.bytes
                    out.append(e.update)
                    levels[t].remove(at: i)
                    moved.append((t, order, subject))
                    if remaining < 20 { break levelLoop }
                }
                i -= 1
            }
        }
        for m in moved {
            var e = entries[m.subject]!
            e.transmits += 1
            if e.transmits >= limit {
                entries[m.subject] = nil
            } else {
                entries[m.subject] = e
                insert((m.order, m.subject), level: e.transmits)
            }
        }
        return out
    }

    private mutating func insert(_ item: (order: UInt64, subject: NodeID), level: Int) {
        while levels.count <= level { levels.append([]) }
        let position = insertionPoint(of: item.order, in: levels[level])
        levels[level].insert(item, at: position)
    }

    private mutating func removeFromLevel(_ e: Entry) {
        guard e.transmits < levels.count else { return }
        let p = insertionPoint(of: e.order, in: levels[e.transmits])
        if p < levels[e.transmits].count, levels[e.transmits][p].order == e.order {
            levels[e.transmits].remove(at: p)
        }
    }

    /// First index whose order is ≥ `order` (levels are ascending by order).
    private func insertionPoint(of order: UInt64, in level: [(order: UInt64, subject: NodeID)]) -> Int {
        var lo = 0, hi = level.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if level[mid].order < order { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Drop the most-sent, oldest entries until within bounds.
    private mutating func prune() {
        var t = levels.count - 1
        while entries.count > maxEntries && t >= 0 {
            if levels[t].isEmpty {
                t -= 1
                continue
            }
            let victim = levels[t].removeFirst()
            entries[victim.subject] = nil
        }
    }
}
