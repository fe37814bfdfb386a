/// The piggyback queue (memberlist's `TransmitLimitedQueue`, SWIM §4.1).
///
/// Each entry is the newest news about one subject: queuing news about a subject replaces
/// what was queued about it. Packets take entries least-transmitted first (newest first
/// among equals) until the byte budget is spent; an entry is dropped once it has been sent
/// `limit` times. Bounded: beyond `maxEntries` the most-sent, oldest entries go first.
///
/// Entries sit in levels by transmit count, each level ordered by insertion, so taking `k`
/// entries costs O(k log q) rather than a sort of the whole queue per packet.
package struct BroadcastQueue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var update: Update
        public var bytes: Int
        public var transmits: Int
        /// Insertion order; higher is newer.
        public var order: UInt64
    }

    /// subject → entry. Looked up, never iterated (iteration order of a `Dictionary` is
    /// per-process; the levels carry the deterministic order).
    public private(set) var entries: [BroadcastSubject: Entry] = [:]
    /// levels[t]: (order, subject) of entries sent t times, ascending by order.
    private var levels: [[(order: UInt64, subject: BroadcastSubject)]] = [[]]
    private var nextOrder: UInt64 = 0
    /// Entries larger than this never fit a datagram: they travel in stream gossip instead,
    /// oldest first.
    private var large: [(order: UInt64, subject: BroadcastSubject)] = []
    public let maxEntries: Int
    public let largeThreshold: Int

    public init(maxEntries: Int, largeThreshold: Int = .max) {
        self.maxEntries = maxEntries
        self.largeThreshold = largeThreshold
    }

    public var hasLarge: Bool { !large.isEmpty }
    /// Bytes of the entries that travel in datagrams.
    public private(set) var smallBytes = 0

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// Queue news, superseding anything queued about the same subject.
    public mutating func enqueue(_ update: Update) {
        let subject = update.subject
        if let old = entries[subject] { removeFromLevel(old) }
        nextOrder += 1
        let e = Entry(update: update, bytes: Wire.size(of: update), transmits: 0, order: nextOrder)
        entries[subject] = e
        if e.bytes > largeThreshold {
            large.append((nextOrder, subject))
        } else {
            levels[0].append((nextOrder, subject))
            smallBytes += e.bytes
        }
        if entries.count > maxEntries { prune() }
    }

    public func contains(subject: BroadcastSubject) -> Bool { entries[subject] != nil }

    /// Take updates that fit in `budget` bytes, counting a transmission for each and
    /// retiring those that reached `limit`.
    public mutating func take(budget: Int, limit: Int) -> [Update] {
        guard !entries.isEmpty, budget > 0 else { return [] }
        var remaining = budget
        var out: [Update] = []
        var moved: [(level: Int, order: UInt64, subject: BroadcastSubject)] = []
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
                smallBytes -= e.bytes
            } else {
                entries[m.subject] = e
                insert((m.order, m.subject), level: e.transmits)
            }
        }
        return out
    }

    /// The updates `take` would choose for `budget` bytes, without counting a transmission:
    /// news riding along on messages that go to the same few members again and again (the
    /// hive's), which must not spend the transmissions that spread it at random.
    public func peek(budget: Int) -> [Update] {
        guard !entries.isEmpty, budget > 0 else { return [] }
        var remaining = budget
        var out: [Update] = []
        levelLoop: for t in levels.indices {
            var i = levels[t].count - 1
            while i >= 0 {
                if let e = entries[levels[t][i].subject], e.bytes <= remaining {
                    remaining -= e.bytes
                    out.append(e.update)
                    if remaining < 20 { break levelLoop }
                }
                i -= 1
            }
        }
        return out
    }

    /// Take large entries (oldest first) up to `budget` bytes (at least one), counting a
    /// transmission for each: one call per stream sent.
    public mutating func takeLarge(budget: Int, limit: Int) -> [Update] {
        var out: [Update] = []
        var spent = 0
        var retired: Set<Int> = []
        for (i, item) in large.enumerated() {
            guard var e = entries[item.subject] else { continue }
            if spent + e.bytes > budget && !out.isEmpty { break }
            spent += e.bytes
            out.append(e.update)
            e.transmits += 1
            if e.transmits >= limit {
                entries[item.subject] = nil
                retired.insert(i)
            } else {
                entries[item.subject] = e
            }
        }
        if !retired.isEmpty {
            large = large.enumerated().filter { !retired.contains($0.offset) }.map(\.element)
        }
        return out
    }

    /// Drop queued news about `subject` (e.g. an event made obsolete by a newer one).
    public mutating func remove(subject: BroadcastSubject) {
        if let old = entries.removeValue(forKey: subject) { removeFromLevel(old) }
    }

    private mutating func insert(_ item: (order: UInt64, subject: BroadcastSubject), level: Int) {
        while levels.count <= level { levels.append([]) }
        let position = insertionPoint(of: item.order, in: levels[level])
        levels[level].insert(item, at: position)
    }

    private mutating func removeFromLevel(_ e: Entry) {
        if e.bytes > largeThreshold {
            if let i = large.firstIndex(where: { $0.order == e.order }) { large.remove(at: i) }
            return
        }
        smallBytes -= e.bytes
        guard e.transmits < levels.count else { return }
        let p = insertionPoint(of: e.order, in: levels[e.transmits])
        if p < levels[e.transmits].count, levels[e.transmits][p].order == e.order {
            levels[e.transmits].remove(at: p)
        }
    }

    /// First index whose order is ≥ `order` (levels are ascending by order).
    private func insertionPoint(of order: UInt64, in level: [(order: UInt64, subject: BroadcastSubject)]) -> Int {
        var lo = 0
        var hi = level.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if level[mid].order < order { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Drop the most-sent, oldest entries until within bounds.
    private mutating func prune() {
        while entries.count > maxEntries && !large.isEmpty {
            entries[large.removeFirst().subject] = nil
        }
        var t = levels.count - 1
        while entries.count > maxEntries && t >= 0 {
            if levels[t].isEmpty {
                t -= 1
                continue
            }
            let victim = levels[t].removeFirst()
            if let e = entries.removeValue(forKey: victim.subject) { smallBytes -= e.bytes }
        }
    }
}
