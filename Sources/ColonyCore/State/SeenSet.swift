import HashTreeCollections

/// What a node has seen of one origin's numbered items: everything up to `base`, plus the
/// `extras` above it that arrived out of order (sorted, each > base + 1).
package struct OriginSeen: Hashable, Sendable {
    public var base: UInt64
    public var extras: [UInt64]

    public init(base: UInt64 = 0, extras: [UInt64] = []) {
        self.base = base
        self.extras = extras
    }

    public func contains(_ counter: UInt64) -> Bool {
        counter <= base || Self.search(extras, counter) != nil
    }

    /// Index of `x` in sorted `a`, if present.
    static func search(_ a: [UInt64], _ x: UInt64) -> Int? {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo < a.count && a[lo] == x ? lo : nil
    }

    @discardableResult
    mutating func insert(_ counter: UInt64) -> Bool {
        if contains(counter) { return false }
        if base < UInt64.max && counter == base + 1 {
            base = counter
            normalise()
        } else {
            var lo = 0
            var hi = extras.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if extras[mid] < counter { lo = mid + 1 } else { hi = mid }
            }
            extras.insert(counter, at: lo)
        }
        return true
    }

    mutating func advance(through counter: UInt64) {
        guard counter > base else { return }
        base = counter
        normalise()
    }

    private mutating func normalise() {
        var drop = 0
        while drop < extras.count && (base == UInt64.max || extras[drop] <= base + 1) {
            if base < UInt64.max && extras[drop] == base + 1 { base += 1 }
            drop += 1
        }
        if drop > 0 { extras.removeFirst(drop) }
    }

    var hash: UInt64 {
        var h = SplitMix64.mix(base ^ 0x5EE7_5EE7)
        for e in extras { h = SplitMix64.mix(h ^ e) }
        return h
    }
}

/// A Scuttlebutt digest entry: per origin, what the sender has seen.
package struct DigestEntry: Hashable, Sendable {
    public var origin: NodeID
    public var seen: OriginSeen

    public init(origin: NodeID, seen: OriginSeen) {
        self.origin = origin
        self.seen = seen
    }
}

/// Per origin, which of its numbered items (state records, events) this node has seen —
/// whether it still holds them or they were superseded. Deduplicates gossip and is the
/// Scuttlebutt digest. Its XOR hash is kept up to date, so agreeing peers find out with one
/// number.
package struct SeenSet: Sendable, Equatable {
    public private(set) var origins: TreeDictionary<NodeID, OriginSeen> = [:]
    public private(set) var rootHash: UInt64 = 0

    public init() {}

    public func contains(_ dot: Dot) -> Bool {
        origins[dot.origin]?.contains(dot.counter) ?? false
    }

    public subscript(origin: NodeID) -> OriginSeen { origins[origin] ?? OriginSeen() }

    @discardableResult
    public mutating func insert(_ dot: Dot) -> Bool {
        var o = origins[dot.origin] ?? OriginSeen()
        let old = origins[dot.origin].map { Self.entryHash(dot.origin, $0) } ?? 0
        guard o.insert(dot.counter) else { return false }
        origins[dot.origin] = o
        rootHash ^= old ^ Self.entryHash(dot.origin, o)
        return true
    }

    public mutating func advance(_ origin: NodeID, through counter: UInt64) {
        var o = origins[origin] ?? OriginSeen()
        guard counter > o.base else { return }
        let old = origins[origin].map { Self.entryHash(origin, $0) } ?? 0
        o.advance(through: counter)
        origins[origin] = o
        rootHash ^= old ^ Self.entryHash(origin, o)
    }

    /// The digest, sorted by origin.
    public var digest: [DigestEntry] {
        origins.map { DigestEntry(origin: $0.key, seen: $0.value) }.sorted { $0.origin < $1.origin }
    }

    static func entryHash(_ origin: NodeID, _ o: OriginSeen) -> UInt64 {
        SplitMix64.mix(origin.high ^ SplitMix64.mix(origin.low ^ o.hash))
    }
}
