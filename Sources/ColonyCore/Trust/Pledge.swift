/// A worker's signed statement that it serves `queen` in `cell` during `term`, as the run
/// `boot` of its process, at `atMs` on its wall clock (issue 18: the issuer of an eviction must
/// be the accused's queen per the signed roster). A queen's roster is her own word; the pledge
/// is the worker's. Workers send a fresh one to their queen as they accept her and every
/// `refreshMs` after (`NodeCore.pledgeIfDue`); she keeps the newest of the current term
/// (`Reign.pledges`), and an eviction of a worker carries it, so any member can check that the
/// issuer was the accused's queen lately — the accused signed it — without holding that cell's
/// roster. A pledge older than `maximumAgeMs` when the eviction is issued proves nothing (the
/// worker may have moved on).
public struct Pledge: Hashable, Sendable {
    /// The worker's run in the roster (`Voter.boot`).
    public var boot: UInt64
    /// When the worker signed it (its wall clock, ms since the epoch).
    public var atMs: UInt64
    /// The worker's signature of `SignedClaim.pledge` (nil when the swarm does not sign).
    public var signature: Signature?

    public init(boot: UInt64, atMs: UInt64, signature: Signature?) {
        self.boot = boot
        self.atMs = atMs
        self.signature = signature
    }

    /// Pledges a worker sends to a new queen at once, one a heartbeat round (a lost datagram
    /// costs a round, not `refreshMs`).
    package static let initialPledges = 3
    /// Then one every this long.
    package static let refreshMs: UInt64 = 10_000
    /// An eviction may carry a pledge at most this old (six refreshes: five may be lost).
    package static let maximumAgeMs: UInt64 = 60_000
}

extension SignedClaim {
    public static func pledge(
        cell: CellID, term: UInt64, queen: NodeID, member: NodeID, boot: UInt64, atMs: UInt64
    ) -> [UInt8] {
        var out: [UInt8] = Array("colony/pledge/2".utf8)
        out.cellID(cell)
        out.varint(term)
        out.nodeID(queen)
        out.nodeID(member)
        out.varint(boot)
        out.varint(atMs)
        return out
    }
}
