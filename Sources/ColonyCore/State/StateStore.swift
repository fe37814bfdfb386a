import HashTreeCollections

/// The replicated key-value map of one node (docs/design.md §4): every key's sibling set, which
/// records it has seen per origin (the Scuttlebutt digest), an index of the records it holds
/// by origin and counter (to answer digests with exactly what a peer lacks), size accounting
/// for the budgets, and tombstones waiting for collection.
///
/// Pure and deterministic: the only hashed collections iterated are keyed by `NodeID`, whose
/// hash is fixed; string-keyed dictionaries are only looked up.
package struct StateStore: Sendable {
    public struct Held: Sendable, Equatable {
        public var counter: UInt64
        public var key: String
    }

    public enum Outcome: Sendable, Equatable {
        /// Seen before (delivered twice, or superseded and already accounted for).
        case duplicate
        /// New to this node but already covered by a causally later write it holds.
        case obsolete
        /// Held now; `superseded` are the records it resolved.
        case applied(superseded: [StateRecord])
    }

    public private(set) var seen = SeenSet()
    /// Looked up, never iterated.
    private var keyStates: [KeyBytes: KeyState] = [:]
    /// Every key with a sibling (tombstones included), sorted by UTF-8 bytes — so the keys
    /// with a prefix are contiguous (String's own order and `hasPrefix` work on characters,
    /// and a combining mark after a prefix breaks that).
    public private(set) var sortedKeys: [String] = []
    private var held: TreeDictionary<NodeID, [Held]> = [:]
    public private(set) var bytes = 0
    private var bytesByOrigin: TreeDictionary<NodeID, Int> = [:]
    /// Keys whose siblings are all tombstones, with when they became so. Looked up; swept
    /// through a sorted copy of its keys.
    private var tombstoned: [KeyBytes: Instant] = [:]
    public private(set) var recordCount = 0
    /// XOR of the held records' dots: replicas holding the same records hash the same.
    public private(set) var contentHash: UInt64 = 0

    public init() {}

    public func read(_ key: String) -> ReadResult {
        keyStates[KeyBytes(key)]?.read ?? ReadResult(siblings: [], context: CausalContext())
    }

    public func keyState(_ key: String) -> KeyState? { keyStates[KeyBytes(key)] }

    /// Keys whose UTF-8 bytes start with `prefix`'s (tombstoned keys included; callers
    /// filter), in byte order.
    public func keys(prefix: String) -> ArraySlice<String> {
        let start = lowerBound(prefix)
        var end = start
        while end < sortedKeys.count && sortedKeys[end].utf8.starts(with: prefix.utf8) { end += 1 }
        return sortedKeys[start..<end]
    }

    /// Keys under `prefix` that are not deleted (some sibling holds a value), in byte order,
    /// with their reads; at most `limit`.
    public func liveKeys(prefix: String, limit: Int) -> [(key: String, read: ReadResult)] {
        var out: [(key: String, read: ReadResult)] = []
        for k in keys(prefix: prefix) {
            guard out.count < limit else { break }
            let r = read(k)
            if !r.siblings.allSatisfy(\.isTombstone) { out.append((k, r)) }
        }
        return out
    }

    public func bytes(of origin: NodeID) -> Int { bytesByOrigin[origin] ?? 0 }

    public var tombstonedKeys: Int { tombstoned.count }

    /// The newest counter this node has used or seen of `origin`.
    public func highestCounter(of origin: NodeID) -> UInt64 {
        let o = seen[origin]
        return max(o.base, o.extras.last ?? 0)
    }

    @discardableResult
    public mutating func apply(_ r: StateRecord, now: Instant) -> Outcome {
        guard seen.insert(r.dot) else { return .duplicate }
        let k = KeyBytes(r.key)
        var ks = keyStates[k] ?? KeyState()
        let isNewKey = ks.isEmpty
        switch ks.apply(r) {
        case .duplicate, .obsolete:
            return .obsolete
        case .applied(let superseded):
            for s in superseded { unhold(s) }
            hold(r)
            if isNewKey { insertKey(r.key) }
            if ks.siblings.allSatisfy(\.isTombstone) {
                if tombstoned[k] == nil { tombstoned[k] = now }
            } else {
                tombstoned[k] = nil
            }
            keyStates[k] = ks
            return .applied(superseded: superseded)
        }
    }

    /// Undo a write of this node that could not be made durable: `r` leaves the store, and
    /// `reinstating` (what it resolved here, or what arrived already covered by it) comes back
    /// wherever nothing else covers it. The dots stay seen: `r`'s was never sent, and a dot is
    /// never used twice. Nothing happens if `r` is no longer held (a later write resolved it):
    /// then it returns false.
    @discardableResult
    public mutating func retract(_ r: StateRecord, reinstating: [StateRecord], now: Instant) -> Bool {
        let k = KeyBytes(r.key)
        guard var ks = keyStates[k], ks.remove(r.dot) else { return false }
        unhold(r)
        for s in reinstating {
            guard case .applied(let superseded) = ks.apply(s) else { continue }
            for x in superseded { unhold(x) }
            hold(s)
        }
        if ks.isEmpty {
            keyStates[k] = nil
            tombstoned[k] = nil
            removeKey(r.key)
            return true
        }
        keyStates[k] = ks
        if ks.siblings.allSatisfy(\.isTombstone) {
            if tombstoned[k] == nil { tombstoned[k] = now }
        } else {
            tombstoned[k] = nil
        }
        return true
    }

    /// What a peer whose digest is `digest` lacks: the held records above what it has seen,
    /// per origin in counter order, until `budget` bytes; and per origin the counter through
    /// which the answer is complete (records not sent below it were superseded here), so
    /// the peer can advance past them. `complete` is false if the budget cut the answer.
    public func missing(for digest: [DigestEntry], budget: Int) -> (
        records: [StateRecord], through: [Dot], complete: Bool
    ) {
        var theirs: TreeDictionary<NodeID, OriginSeen> = [:]
        for d in digest { theirs[d.origin] = d.seen }
        var records: [StateRecord] = []
        var through: [Dot] = []
        var spent = 0
        for origin in seen.origins.keys.sorted() {
            let mine = seen[origin]
            let their = theirs[origin] ?? OriginSeen()
            guard mine.base > their.base || !mine.extras.isEmpty else { continue }
            var lastSent: UInt64 = their.base
            var cut = false
            for h in held[origin] ?? [] where h.counter > their.base && !their.contains(h.counter) {
                guard
                    let r = keyStates[KeyBytes(h.key)]?.siblings.first(where: {
                        $0.dot.origin == origin && $0.dot.counter == h.counter
                    })
                else { continue }
                let size = r.footprint
                if spent + size > budget && !records.isEmpty {
                    cut = true
                    break
                }
                spent += size
                records.append(r)
                lastSent = h.counter
            }
            let t = cut ? min(mine.base, lastSent) : mine.base
            if t > their.base { through.append(Dot(origin: origin, counter: t)) }
            if cut { return (records, through, false) }
        }
        return (records, through, true)
    }

    /// Mark what a peer's complete answer covered as seen.
    public mutating func advance(_ through: [Dot]) {
        for t in through { seen.advance(t.origin, through: t.counter) }
    }

    /// Collect keys whose siblings have all been tombstones since before `horizon`; returns
    /// them sorted. Their dots stay in `seen`, so a late copy cannot resurrect them.
    public mutating func collectTombstones(before horizon: Instant) -> [String] {
        var expired: [KeyBytes] = []
        for (key, since) in tombstoned where since < horizon { expired.append(key) }
        expired.sort { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        var names: [String] = []
        for key in expired {
            tombstoned[key] = nil
            guard let ks = keyStates[key], let name = ks.siblings.first?.key else { continue }
            for s in ks.siblings { unhold(s) }
            keyStates[key] = nil
            removeKey(name)
            names.append(name)
        }
        return names
    }

    // MARK: Bookkeeping

    private mutating func hold(_ r: StateRecord) {
        var list = held[r.dot.origin] ?? []
        let h = Held(counter: r.dot.counter, key: r.key)
        if let last = list.last, last.counter > h.counter {
            var lo = 0
            var hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if list[mid].counter < h.counter { lo = mid + 1 } else { hi = mid }
            }
            list.insert(h, at: lo)
        } else {
            list.append(h)
        }
        held[r.dot.origin] = list
        let size = r.footprint
        bytes += size
        bytesByOrigin[r.dot.origin, default: 0] += size
        recordCount += 1
        contentHash ^= Self.dotHash(r.dot)
    }

    private mutating func unhold(_ r: StateRecord) {
        guard var list = held[r.dot.origin] else { return }
        var lo = 0
        var hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].counter < r.dot.counter { lo = mid + 1 } else { hi = mid }
        }
        guard lo < list.count, list[lo].counter == r.dot.counter else { return }
        list.remove(at: lo)
        held[r.dot.origin] = list.isEmpty ? nil : list
        let size = r.footprint
        bytes -= size
        let left = (bytesByOrigin[r.dot.origin] ?? size) - size
        bytesByOrigin[r.dot.origin] = left > 0 ? left : nil
        recordCount -= 1
        contentHash ^= Self.dotHash(r.dot)
    }

    private mutating func insertKey(_ key: String) {
        let i = lowerBound(key)
        if i < sortedKeys.count && sortedKeys[i].utf8.elementsEqual(key.utf8) { return }
        sortedKeys.insert(key, at: i)
    }

    private mutating func removeKey(_ key: String) {
        let i = lowerBound(key)
        if i < sortedKeys.count && sortedKeys[i].utf8.elementsEqual(key.utf8) { sortedKeys.remove(at: i) }
    }

    private func lowerBound(_ key: String) -> Int {
        var lo = 0
        var hi = sortedKeys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sortedKeys[mid].utf8.lexicographicallyPrecedes(key.utf8) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Keys are byte strings: two spellings Swift's `String ==` calls equal (a precomposed
    /// "é" and "e" + U+0301) are different keys, the same on every replica.
    struct KeyBytes: Hashable, Sendable {
        let bytes: [UInt8]
        init(_ s: String) { bytes = Array(s.utf8) }
    }

    static func dotHash(_ d: Dot) -> UInt64 {
        SplitMix64.mix(d.origin.high ^ SplitMix64.mix(d.origin.low ^ SplitMix64.mix(d.counter)))
    }
}
