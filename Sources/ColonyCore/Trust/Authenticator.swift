/// Per-node authority (docs/design.md §6): each node signs what it originates — its alive and
/// leave claims, state records, events and queries — and every receiver checks the
/// signature against the key the claimed origin's id derives from. A node holding the
/// swarm key can therefore still not speak for another node.
///
/// The core does no cryptography itself (it stays pure and portable): drivers hand it an
/// `Authenticator`. The real one is Ed25519 (ColonyTrust); the simulator's is a keyed hash
/// that only the true origin can compute, which models unforgeability at a fraction of the
/// cost.
package protocol Authenticator: Sendable {
    /// This node's public key.
    var publicKey: [UInt8] { get }
    /// Sign `message` with this node's private key.
    func sign(_ message: [UInt8]) -> [UInt8]
    /// True if `signature` is `publicKey`'s signature of `message`.
    func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool
    /// The node id a public key stands for (ids derive from keys, so an id cannot be
    /// claimed without its key).
    func nodeID(for publicKey: [UInt8]) -> NodeID
}

/// A signature with the signer's public key (so a receiver needs no key directory: the key
/// proves itself by hashing to the origin's id).
public struct Signature: Hashable, Sendable {
    public var publicKey: [UInt8]
    public var bytes: [UInt8]

    public init(publicKey: [UInt8], bytes: [UInt8]) {
        self.publicKey = publicKey
        self.bytes = bytes
    }

    /// Ed25519 sizes: the wire format carries exactly these.
    public static let publicKeyBytes = 32
    public static let signatureBytes = 64
}

/// What is signed: a domain tag (so a signature over one kind of claim is never valid for
/// another), then the claim's canonical wire bytes without any signature.
package enum SignedClaim {
    public static func alive(_ m: Member) -> [UInt8] {
        var out: [UInt8] = Array("colony/alive/1".utf8)
        out.nodeID(m.id)
        out.string(m.name)
        out.address(m.address)
        out.varint(m.incarnation)
        out.write(m.protocolVersion)
        out.tags(m.tags)
        return out
    }

    public static func left(id: NodeID, incarnation: UInt64) -> [UInt8] {
        var out: [UInt8] = Array("colony/left/1".utf8)
        out.nodeID(id)
        out.varint(incarnation)
        return out
    }

    public static func record(_ r: StateRecord) -> [UInt8] {
        var out: [UInt8] = Array("colony/record/1".utf8)
        out.recordBody(r)
        return out
    }

    public static func event(_ e: UserEvent) -> [UInt8] {
        var out: [UInt8] = Array("colony/event/1".utf8)
        out.userEventBody(e)
        return out
    }

    public static func queen(_ c: QueenClaim) -> [UInt8] {
        var out: [UInt8] = Array("colony/queen/1".utf8)
        out.queenClaimBody(c)
        return out
    }

    public static func heartbeat(cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, queen: NodeID)
        -> [UInt8]
    {
        var out: [UInt8] = Array("colony/heartbeat/1".utf8)
        out.cellID(cell)
        out.varint(term)
        out.varint(round)
        out.rosterVersion(version)
        out.nodeID(queen)
        return out
    }

    public static func requestVote(cell: CellID, term: UInt64, candidate: NodeID, version: RosterVersion) -> [UInt8] {
        var out: [UInt8] = Array("colony/request-vote/1".utf8)
        out.cellID(cell)
        out.varint(term)
        out.nodeID(candidate)
        out.rosterVersion(version)
        return out
    }

    public static func breed(
        cell: CellID, term: UInt64, newCell: CellID, designate: NodeID, voters: [Voter], queen: NodeID
    ) -> [UInt8] {
        var out: [UInt8] = Array("colony/breed/1".utf8)
        out.cellID(cell)
        out.varint(term)
        out.cellID(newCell)
        out.nodeID(designate)
        out.voters(voters)
        out.nodeID(queen)
        return out
    }

    public static func depose(cell: CellID, term: UInt64, by: NodeID) -> [UInt8] {
        var out: [UInt8] = Array("colony/depose/1".utf8)
        out.cellID(cell)
        out.varint(term)
        out.nodeID(by)
        return out
    }

    public static func vote(cell: CellID, term: UInt64, candidate: NodeID, voter: NodeID, granted: Bool) -> [UInt8] {
        var out: [UInt8] = Array("colony/vote/1".utf8)
        out.cellID(cell)
        out.varint(term)
        out.nodeID(candidate)
        out.nodeID(voter)
        out.write(granted ? 1 : 0)
        return out
    }

    public static func query(_ q: Query) -> [UInt8] {
        var out: [UInt8] = Array("colony/query/1".utf8)
        out.queryBody(q)
        return out
    }
}
