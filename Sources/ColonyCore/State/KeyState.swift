/// One write to a key: its value (nil for a delete: a tombstone), its dot (origin and the
/// origin's write counter, unique across keys), `prev` (the origin's previous write to this
/// key, 0 if none), the causal context its writer had read, and its hybrid-clock time.
public struct StateRecord: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]?
    public var dot: Dot
    public var prev: UInt64
    public var context: CausalContext
    public var timestamp: HLCTimestamp
    /// The origin's signature (when the swarm authenticates).
    public var signature: Signature?

    public init(key: String, value: [UInt8]?, dot: Dot, prev: UInt64, context: CausalContext, timestamp: HLCTimestamp) {
        self.key = key
        self.value = value
        self.dot = dot
        self.prev = prev
        self.context = context
        self.timestamp = timestamp
    }

    /// Bytes this record costs against the size budgets: key, value and metadata.
    package var footprint: Int { key.utf8.count + (value?.count ?? 0) + 48 + 24 * context.count }

    public var isTombstone: Bool { value == nil }

    /// Last-writer-wins order: hybrid time, then origin id — the same on every node.
    public static func lwwBefore(_ a: StateRecord, _ b: StateRecord) -> Bool {
        a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.dot.origin < b.dot.origin
    }
}

/// What a read returns: the concurrent values (siblings) and an opaque context that a
/// following write passes back to resolve them (dotted version vectors, as Riak 2).
public struct ReadResult: Sendable, Equatable {
    public var siblings: [StateRecord]
    public var context: CausalContext

    public init(siblings: [StateRecord], context: CausalContext) {
        self.siblings = siblings
        self.context = context
    }

    /// The convenience answer: last writer wins on the hybrid clock, ties by node id. Nil if
    /// the key is absent or its winning write is a delete.
    public var winner: StateRecord? { siblings.max(by: StateRecord.lwwBefore) }
    public var value: [UInt8]? { winner?.value }
}

/// The sibling set of one key. Applying records is idempotent, commutative and associative
/// (a join-semilattice), so replicas that saw the same records hold the same siblings in
/// whatever order they arrived.
package struct KeyState: Sendable, Equatable {
    /// Mutually concurrent records, sorted by dot.
    public private(set) var siblings: [StateRecord] = []

    public init() {}

    public enum Outcome: Sendable, Equatable {
        /// The record was already here: nothing changed.
        case duplicate
        /// A sibling's context already covers the record: it is obsolete.
        case obsolete
        /// Added; `superseded` are the siblings it replaced (resolved, not lost: they are
        /// covered by a causally later write).
        case applied(superseded: [StateRecord])
    }

    @discardableResult
    public mutating func apply(_ r: StateRecord) -> Outcome {
        if siblings.contains(where: { $0.dot == r.dot }) { return .duplicate }
        if siblings.contains(where: { $0.context.covers(r.dot) }) { return .obsolete }
        let superseded = siblings.filter { r.context.covers($0.dot) }
        siblings.removeAll { r.context.covers($0.dot) }
        let i = siblings.firstIndex { r.dot < $0.dot } ?? siblings.count
        siblings.insert(r, at: i)
        return .applied(superseded: superseded)
    }

    /// Take the sibling with `dot` out (an own write undone); false if it is not one.
    mutating func remove(_ dot: Dot) -> Bool {
        guard let i = siblings.firstIndex(where: { $0.dot == dot }) else { return false }
        siblings.remove(at: i)
        return true
    }

    /// The siblings and the context that covers all of them.
    public var read: ReadResult {
        ReadResult(siblings: siblings, context: context)
    }

    /// The context that covers every sibling and everything they superseded.
    public var context: CausalContext {
        var context = CausalContext()
        for s in siblings {
            context.merge(s.context)
            context.add(s.dot, prev: s.prev)
        }
        return context
    }

    public var isEmpty: Bool { siblings.isEmpty }
}
