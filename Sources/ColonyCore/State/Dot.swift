/// The identity of one write: the node that made it and that node's write counter
/// (docs/design.md §4). Counters are per origin across all keys, so a Scuttlebutt digest is
/// "the highest counter held, per origin".
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var origin: NodeID
    public var counter: UInt64

    public init(origin: NodeID, counter: UInt64) {
        self.origin = origin
        self.counter = counter
    }

    public static func < (a: Dot, b: Dot) -> Bool {
        a.origin != b.origin ? a.origin < b.origin : a.counter < b.counter
    }

    public var description: String { "\(origin.description.prefix(8)):\(counter)" }
}

/// A causal context: for each origin, the highest counter of its writes that are known
/// (dots are assumed contiguous per origin within one key's history). Entries are kept
/// sorted by origin, so equal vectors are equal values and iteration is deterministic.
package struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    public private(set) var entries: [(origin: NodeID, counter: UInt64)]

    public init() { entries = [] }

    public init<S: Sequence>(_ dots: S) where S.Element == Dot {
        entries = []
        for d in dots { add(d) }
    }

    /// Entries already sorted by strictly increasing origin (the wire decoder checks it).
    init(canonical entries: [(origin: NodeID, counter: UInt64)]) { self.entries = entries }

    public static func == (a: VersionVector, b: VersionVector) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.origin == $1.origin && $0.counter == $1.counter }
    }

    public func hash(into hasher: inout Hasher) {
        for e in entries {
            hasher.combine(e.origin)
            hasher.combine(e.counter)
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    /// Number of origins: the metadata cost grows with writers, not writes.
    public var count: Int { entries.count }

    public subscript(origin: NodeID) -> UInt64 {
        guard let i = index(of: origin) else { return 0 }
        return entries[i].counter
    }

    /// True if the write `dot` is known to this context.
    public func covers(_ dot: Dot) -> Bool { self[dot.origin] >= dot.counter }

    /// True if every write `other` knows is known here.
    public func dominates(_ other: VersionVector) -> Bool {
        other.entries.allSatisfy { self[$0.origin] >= $0.counter }
    }

    public mutating func add(_ dot: Dot) {
        let i = insertionIndex(of: dot.origin)
        if i < entries.count, entries[i].origin == dot.origin {
            entries[i].counter = max(entries[i].counter, dot.counter)
        } else {
            entries.insert((dot.origin, dot.counter), at: i)
        }
    }

    public mutating func merge(_ other: VersionVector) {
        for e in other.entries { add(Dot(origin: e.origin, counter: e.counter)) }
    }

    public func merged(_ other: VersionVector) -> VersionVector {
        var v = self
        v.merge(other)
        return v
    }

    private func index(of origin: NodeID) -> Int? {
        let i = insertionIndex(of: origin)
        return i < entries.count && entries[i].origin == origin ? i : nil
    }

    private func insertionIndex(of origin: NodeID) -> Int {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].origin < origin { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    public var description: String {
        "[" + entries.map { "\($0.origin.description.prefix(8)):\($0.counter)" }.joined(separator: ", ") + "]"
    }
}

/// A write known to a context but not (yet) folded into its version vector: its dot and
/// `prev`, the counter of its origin's previous write to the same key as that origin knew it.
package struct CloudDot: Hashable, Comparable, Sendable {
    public var dot: Dot
    public var prev: UInt64

    public init(dot: Dot, prev: UInt64) {
        self.dot = dot
        self.prev = prev
    }

    public static func < (a: CloudDot, b: CloudDot) -> Bool { a.dot < b.dot }
}

/// The causal context of one key: which writes to that key are known (docs/design.md §4).
///
/// Counters are per origin across all keys (Scuttlebutt needs that), so one key's writes
/// from an origin are not numbered 1, 2, 3…: each record also names `prev`, its origin's
/// previous write to the key. `base[o] = c` means "every write by `o` to this key up to `c`
/// is known"; a write whose predecessor is not yet known waits in the `cloud` (the dot
/// cloud of delta-CRDT causal contexts, Almeida et al. 2018) and folds into the vector as
/// soon as the chain is complete. So a context read from a replica that saw a later write
/// but not an earlier concurrent one never claims the earlier one (a plain version vector
/// would, and a write carrying it would silently discard an acknowledged sibling), while
/// causally ordered histories fold completely: one entry per writer, whatever the number of
/// writes.
public struct CausalContext: Hashable, Sendable, CustomStringConvertible {
    package private(set) var base: VersionVector
    /// Sorted by dot; every entry's counter is above its origin's base.
    package private(set) var cloud: [CloudDot]

    public init() {
        base = VersionVector()
        cloud = []
    }

    package init(base: VersionVector, cloud: [CloudDot] = []) {
        self.base = base
        self.cloud = []
        for c in cloud { add(c.dot, prev: c.prev) }
    }

    /// A context already in the form `add` keeps (the wire decoder checks it): the cloud sorted
    /// by dot, each entry above its origin's base with its predecessor above the base too.
    init(canonicalBase base: VersionVector, cloud: [CloudDot]) {
        self.base = base
        self.cloud = cloud
    }

    public var isEmpty: Bool { base.isEmpty && cloud.isEmpty }
    /// Entries in all: one per writer when histories are causally ordered.
    public var count: Int { base.count + cloud.count }

    package func covers(_ dot: Dot) -> Bool {
        base[dot.origin] >= dot.counter || cloud.contains { $0.dot == dot }
    }

    /// The highest counter of `origin` this context knows for the key (what that origin
    /// names as `prev` when it writes the key next).
    package func latest(of origin: NodeID) -> UInt64 {
        var m = base[origin]
        for c in cloud where c.dot.origin == origin { m = max(m, c.dot.counter) }
        return m
    }

    package mutating func add(_ dot: Dot, prev: UInt64) {
        let b = base[dot.origin]
        if dot.counter <= b { return }
        if prev <= b {
            base.add(dot)
            fold(dot.origin)
        } else if !cloud.contains(where: { $0.dot == dot }) {
            let c = CloudDot(dot: dot, prev: prev)
            let i = cloud.firstIndex { c < $0 } ?? cloud.count
            cloud.insert(c, at: i)
        }
    }

    package mutating func merge(_ other: CausalContext) {
        for e in other.base.entries {
            if e.counter > base[e.origin] {
                base.add(Dot(origin: e.origin, counter: e.counter))
                fold(e.origin)
            }
        }
        for c in other.cloud { add(c.dot, prev: c.prev) }
    }

    package func merged(_ other: CausalContext) -> CausalContext {
        var c = self
        c.merge(other)
        return c
    }

    /// Fold cloud entries of `origin` whose chain now reaches the base, and drop covered ones.
    private mutating func fold(_ origin: NodeID) {
        var changed = true
        while changed {
            changed = false
            let b = base[origin]
            var i = 0
            while i < cloud.count {
                let c = cloud[i]
                if c.dot.origin == origin && (c.dot.counter <= b || c.prev <= b) {
                    cloud.remove(at: i)
                    if c.dot.counter > b {
                        base.add(c.dot)
                        changed = true
                    }
                } else {
                    i += 1
                }
            }
        }
    }

    public var description: String {
        cloud.isEmpty
            ? base.description : "\(base.description)+{" + cloud.map { "\($0.dot)" }.joined(separator: ", ") + "}"
    }
}
