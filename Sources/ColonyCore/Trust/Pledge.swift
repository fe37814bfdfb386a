/// A worker's signed statement that it serves `queen` in `cell` during `term`, as the run
/// `boot` of its process (issue 18: the issuer of an eviction must be the accused's queen per
/// the signed roster). A queen's roster is her own word; the pledge is the worker's. Workers
/// send it to their queen as they accept her and now and then after (`NodeCore.pledgeIfDue`);
/// she keeps the current term's (`Reign.pledges`) and an eviction of a worker carries its
/// pledge, so any member can check that the issuer was the accused's queen — the accused
/// signed it — without holding that cell's roster.
public struct Pledge: Hashable, Sendable {
    /// The worker's run in the roster (`Voter.boot`).
    public var boot: UInt64
    /// The worker's signature of `SignedClaim.pledge` (nil when the swarm does not sign).
    public var signature: Signature?

    public init(boot: UInt64, signature: Signature?) {
        self.boot = boot
        self.signature = signature
    }

    /// Rounds between pledges once a worker has sent its first `initialPledges` to a queen
    /// (one a heartbeat round at first: a lost datagram costs one round, not ten seconds).
    package static let initialPledges = 3
    package static let pledgeEvery: UInt64 = 200
}

extension SignedClaim {
    public static func pledge(cell: CellID, term: UInt64, queen: NodeID, member: NodeID, boot: UInt64) -> [UInt8] {
        var out: [UInt8] = Array("colony/pledge/1".utf8)
        out.cellID(cell)
        out.varint(term)
        out.nodeID(queen)
        out.nodeID(member)
        out.varint(boot)
        return out
    }
}
