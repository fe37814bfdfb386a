/// The hive (docs/design.md §5): cells, each with one elected queen that routes broadcasts.
///
/// A cell is a Raft group whose only replicated entry is its **roster** (who votes). Its
/// queen is elected Raft-style — terms, randomised timeouts, pre-vote, one vote per voter
/// per term, a majority of the roster — and holds a **lease** renewed by heartbeats that a
/// majority acknowledges. Voters refuse to vote for anyone within `electionTimeoutMin` of
/// hearing their queen, and the queen's lease ends `leaseFraction` of that after the round a
/// majority acknowledged, so no two queens of one cell hold a lease at once (Raft thesis
/// §6.4.1). Roster changes are Raft's single-server changes: one voter at a time, each
/// committed by a majority of the new roster before the next, and a new queen first commits
/// an entry of her own term (the fix Ongaro gave in 2015 for the single-server-change bug).
///
/// Voters are runs of a process, not identities: a restarted node forgot its votes, so it
/// comes back as a new voter (`boot` = its incarnation at start, strictly higher) that only
/// a committed roster change admits. No vote needs to be made durable.
public struct CellID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public static func < (a: CellID, b: CellID) -> Bool { a.raw < b.raw }
    public var description: String { String(raw, radix: 16) }
}

/// One run of a member's process in a cell's roster.
public struct Voter: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var id: NodeID
    /// The member's incarnation when the process started.
    public var boot: UInt64
    public init(id: NodeID, boot: UInt64) {
        self.id = id
        self.boot = boot
    }
    public static func < (a: Voter, b: Voter) -> Bool { (a.id, a.boot) < (b.id, b.boot) }
    public var description: String { "\(id)@\(boot)" }
}

/// Which roster is newer: Raft's (last log term, last log index).
public struct RosterVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var term: UInt64
    public var index: UInt64
    public init(term: UInt64, index: UInt64) {
        self.term = term
        self.index = index
    }
    public static let zero = RosterVersion(term: 0, index: 0)
    public static func < (a: RosterVersion, b: RosterVersion) -> Bool { (a.term, a.index) < (b.term, b.index) }
    public var description: String { "\(term).\(index)" }
}

/// Who votes in a cell, at a version.
public struct Roster: Hashable, Sendable {
    public var cell: CellID
    public var version: RosterVersion
    /// Sorted, distinct.
    public private(set) var voters: [Voter]

    public init(cell: CellID, version: RosterVersion, voters: [Voter]) {
        self.cell = cell
        self.version = version
        self.voters = Array(Set(voters)).sorted()
    }

    public var count: Int { voters.count }
    /// Votes (or acknowledgements) that make a majority.
    public var majority: Int { voters.count / 2 + 1 }
    public func contains(_ v: Voter) -> Bool { voters.contains(v) }
    public func voter(for id: NodeID) -> Voter? { voters.first { $0.id == id } }

    mutating func insert(_ v: Voter) {
        guard !voters.contains(v) else { return }
        voters.append(v)
        voters.sort()
    }

    mutating func remove(_ v: Voter) { voters.removeAll { $0 == v } }
}

/// A queen's announcement to the whole swarm: she rules `cell` in `term`, with `size`
/// voters, at `coordinate`. Spread by gossip like membership news (newest `(term, serial)`
/// per cell wins) and signed by the queen. Workers pick the nearest open cell from these;
/// queens forward broadcasts to each other through them. `size == 0`: the cell dissolved.
public struct QueenClaim: Hashable, Sendable {
    public var cell: CellID
    public var term: UInt64
    public var queen: NodeID
    public var address: Address
    /// Bumped for every new claim of the same term (size changes, refreshes).
    public var serial: UInt64
    public var size: UInt32
    /// Room for more workers.
    public var open: Bool
    public var coordinate: Coordinate
    public var signature: Signature?

    public init(
        cell: CellID, term: UInt64, queen: NodeID, address: Address, serial: UInt64, size: UInt32, open: Bool,
        coordinate: Coordinate, signature: Signature? = nil
    ) {
        self.cell = cell
        self.term = term
        self.queen = queen
        self.address = address
        self.serial = serial
        self.size = size
        self.open = open
        self.coordinate = coordinate
        self.signature = signature
    }

    package var peer: Peer { Peer(id: queen, address: address) }
    public var dissolved: Bool { size == 0 }

    /// True if this claim supersedes `other` (same cell).
    package func supersedes(_ other: QueenClaim) -> Bool { (term, serial) > (other.term, other.serial) }
}
