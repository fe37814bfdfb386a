import HashTreeCollections

/// One node's view of the swarm: every member it knows, including itself and tombstones.
///
/// Backed by a persistent hash trie (`TreeDictionary`), so copies share structure: a
/// simulator of 10,000 nodes that all hold the same 10,000 members stores them about once,
/// and each node's later changes copy only the O(log N) path they touch (docs/design.md §2).
/// Beside the trie it keeps O(1) counters and the digest buckets used by anti-entropy, all
/// updated incrementally on every write, so nothing here walks the table on a hot path.
package struct MemberTable: Sendable {
    public struct Record: Sendable, Equatable {
        public var member: Member
        /// When this node last saw the member's status change (local time).
        public var changedAt: Instant
    }

    /// Anti-entropy buckets: 2^8. Coarser views fold these.
    public static let bucketBits: UInt8 = 8

    public private(set) var records: TreeDictionary<NodeID, Record>
    public private(set) var statusCounts: [Int] // indexed by MemberStatus.rawValue
    /// XOR of the entry hashes per bucket (see `entryHash`).
    public private(set) var buckets: [UInt64]

    public init() {
        records = [:]
        statusCounts = [0, 0, 0, 0]
        buckets = Array(repeating: 0, count: 1 << Int(Self.bucketBits))
    }

    public var count: Int { records.count }
    /// Alive + suspect, self included: the "N" of retransmit limits and suspicion timeouts.
    public var liveCount: Int { statusCounts[0] + statusCounts[1] }
    public func count(_ status: MemberStatus) -> Int { statusCounts[Int(status.rawValue)] }

    @inlinable
    public subscript(id: NodeID) -> Record? { records[id] }

    /// Insert or replace a member's record, keeping counters and digest in step.
    public mutating func upsert(_ member: Member, at now: Instant) {
        let newRecord = Record(member: member, changedAt: now)
        if let old = records.updateValue(newRecord, forKey: member.id) {
            statusCounts[Int(old.member.status.rawValue)] -= 1
            toggle(old.member)
        }
        statusCounts[Int(member.status.rawValue)] += 1
        toggle(member)
    }

    @discardableResult
    public mutating func remove(_ id: NodeID) -> Record? {
        guard let old = records.removeValue(forKey: id) else { return nil }
        statusCounts[Int(old.member.status.rawValue)] -= 1
        toggle(old.member)
        return old
    }

    private mutating func toggle(_ m: Member) {
        let h = Self.entryHash(m)
        buckets[Self.bucket(of: m.id, bits: Self.bucketBits)] ^= h
    }

    /// The hash an entry contributes to the digest: id, incarnation and status. Metadata
    /// changes always come with a new incarnation, so they are covered too.
    @inlinable
    public static func entryHash(_ m: Member) -> UInt64 {
        SplitMix64.mix(m.id.stableHash ^ SplitMix64.mix(m.incarnation &* 4 &+ UInt64(m.status.rawValue) &+ 0x51)) | 1
    }

    @inlinable
    public static func bucket(of id: NodeID, bits: UInt8) -> Int {
        bits == 0 ? 0 : Int(truncatingIfNeeded: id.stableHash >> (64 - UInt64(bits)))
    }

    /// The digest of the whole table.
    public var rootHash: UInt64 { buckets.reduce(0, ^) }

    /// Bucket hashes folded to `2^bits` buckets (bits ≤ `bucketBits`).
    public func bucketHashes(bits: UInt8) -> [UInt64] {
        let b = min(bits, Self.bucketBits)
        let fold = 1 << Int(Self.bucketBits - b)
        var out = Array(repeating: UInt64(0), count: 1 << Int(b))
        for (i, h) in buckets.enumerated() { out[i / fold] ^= h }
        return out
    }

    /// Members whose bucket at `bits` is in `wanted`. O(N): used only when digests differ.
    public func members(inBuckets wanted: [UInt16], bits: UInt8) -> [Member] {
        var set = Array(repeating: false, count: 1 << Int(bits))
        for b in wanted where Int(b) < set.count { set[Int(b)] = true }
        var out: [Member] = []
        for (_, r) in records where set[Self.bucket(of: r.member.id, bits: bits)] {
            out.append(r.member)
        }
        return out
    }

    /// The member at a position in the table's (deterministic) order; O(log position).
    public func record(atOffset offset: Int) -> Record {
        records[records.index(records.startIndex, offsetBy: offset)].value
    }

    public var allMembers: [Member] { records.values.map(\.member) }
}
