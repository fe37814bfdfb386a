/// A member's status as one node sees it (SWIM §4, memberlist's node states).
///
/// Ordering at equal incarnation (docs/design.md §2): `left > dead > suspect > alive`. A member's
/// own leave is final for that incarnation, so it outranks a failure verdict.
public enum MemberStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case alive = 0
    case suspect = 1
    case dead = 2
    case left = 3

    /// Precedence at equal incarnation.
    @inlinable
    package var rank: UInt8 { rawValue }

    /// Alive or suspect: still a member we probe and gossip to.
    @inlinable
    public var isLive: Bool { self == .alive || self == .suspect }

    /// Dead or left: a tombstone.
    @inlinable
    public var isGone: Bool { self == .dead || self == .left }

    public var description: String {
        switch self {
        case .alive: "alive"
        case .suspect: "suspect"
        case .dead: "dead"
        case .left: "left"
        }
    }

    public init?(name: String) {
        switch name {
        case "alive": self = .alive
        case "suspect": self = .suspect
        case "dead": self = .dead
        case "left": self = .left
        default: return nil
        }
    }
}

/// What the swarm knows of one member: identity, where it listens, its metadata, and its
/// status at an incarnation.
public struct Member: Sendable, Hashable, CustomStringConvertible {
    public var id: NodeID
    public var name: String
    public var address: Address
    /// Small key → value labels (role, zone, …), as Serf's tags.
    public var tags: [String: String]
    /// Bumped only by the member itself, to refute suspicion or to publish new metadata.
    public var incarnation: UInt64
    public var status: MemberStatus
    /// The wire protocol version the member speaks.
    public var protocolVersion: UInt8
    /// The member's own signature of its latest claim: its leave if `status` is `left`,
    /// otherwise its alive claim (suspect and dead are others' claims, not signed by it).
    public var signature: Signature?
    /// The authority's certificate for the member's key (when the swarm admits by it).
    public var certificate: Certificate?

    public init(
        id: NodeID, name: String, address: Address, tags: [String: String] = [:],
        incarnation: UInt64 = 0, status: MemberStatus = .alive, protocolVersion: UInt8 = ProtocolVersion.current
    ) {
        self.id = id
        self.name = name
        self.address = address
        self.tags = tags
        self.incarnation = incarnation
        self.status = status
        self.protocolVersion = protocolVersion
    }

    /// True if `self` is newer news than `other` about the same member: a higher incarnation,
    /// or the same incarnation with a stronger status.
    @inlinable
    package func supersedes(_ other: Member) -> Bool {
        incarnation != other.incarnation ? incarnation > other.incarnation : status.rank > other.status.rank
    }

    package var peer: Peer { Peer(id: id, address: address) }

    public var description: String { "\(name)(\(status)@\(incarnation))" }
}

public enum ProtocolVersion {
    /// The wire protocol this build speaks.
    public static let current: UInt8 = 1
    /// The oldest version this build accepts.
    public static let minimumSupported: UInt8 = 1
}
