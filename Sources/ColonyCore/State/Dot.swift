/// The identity of one write: the node that made it and that node's write counter
/// (DESIGN.md §4). Counters are per origin across all keys, so a Scuttlebutt digest is
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
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    public private(set) var entries: [(origin: NodeID, counter: UInt64)]

    public init() { entries = [] }

    public init<S: Sequence>(_ dots: S) where S.Element == Dot {
        entries = []
        for d in dots { add(d) }
    }

    public static func == (a: VersionVector, b: VersionVector) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.origin == $1.origin && $0.counter == $1.counter }
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
        var lo = 0, hi = entries.count
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
