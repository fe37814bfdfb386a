/// A force-leave as it travels (Serf's `force-leave`, Consul's `force-leave -prune`): the
/// payload of the internal query `ColonyQuery.forceLeave`. It names the member, the
/// incarnation it failed at, whether to prune it, when it was issued, and the operator's
/// signature of `order` (none in an open swarm, where the query's own signature, its asker's,
/// is the member's order).
public struct ForceLeave: Sendable, Equatable {
    public var id: NodeID
    public var incarnation: UInt64
    public var prune: Bool
    public var issuedAtMs: UInt64
    /// The operator's signature of `order`, where operators are required.
    public var signature: Signature?

    public init(id: NodeID, incarnation: UInt64, prune: Bool, issuedAtMs: UInt64, signature: Signature? = nil) {
        self.id = id
        self.incarnation = incarnation
        self.prune = prune
        self.issuedAtMs = issuedAtMs
        self.signature = signature
    }

    /// The operator's order this carries out.
    public var order: OperatorOrder {
        .forceLeave(id: id, incarnation: incarnation, prune: prune, issuedAtMs: issuedAtMs)
    }

    /// The payload's bytes: a format byte, the id, the incarnation, the prune flag, the issue
    /// time and the optional signature, in the wire's encodings.
    public var encoded: [UInt8] {
        var out: [UInt8] = [Self.format]
        out.nodeID(id)
        out.varint(incarnation)
        out.append(prune ? 1 : 0)
        out.varint(issuedAtMs)
        out.signature(signature)
        return out
    }

    static let format: UInt8 = 1

    /// Decode a payload from the network: total (a `WireError`, never a trap), exact (no
    /// trailing bytes), flags strictly 0 or 1.
    package init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        let format = try r.u8()
        guard format == Self.format else { throw .unsupportedVersion(format) }
        id = try r.nodeID()
        incarnation = try r.varint()
        prune = try r.flag("prune flag")
        issuedAtMs = try r.varint()
        signature = try r.signature()
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
    }
}

/// What a force-leave did at one member (its answer to the asker).
public enum ForceLeaveOutcome: String, Sendable, CaseIterable, Codable {
    /// The member is `left` here now (it was failed or suspect at the order's incarnation, or
    /// had left already).
    case left
    /// The member's record is gone from this member's table.
    case pruned
    /// The member is alive here (or this is the member itself, which refuted): no effect.
    case alive
    /// This member does not know it (never heard of it, or already forgot it).
    case unknown
    /// Held here at another incarnation than the order names: no effect.
    case otherIncarnation = "other-incarnation"
    /// The order was refused here (why: `ForceLeaveSummary.errors`).
    case refused
}

/// A member's answer, as text: the outcome, and for a refusal why (`refused: REASON`).
extension ForceLeaveOutcome {
    static func answer(_ outcome: ForceLeaveOutcome, reason: String? = nil) -> [UInt8] {
        Array((reason.map { "\(outcome.rawValue): \($0)" } ?? outcome.rawValue).utf8)
    }

    /// The outcome and reason in an answer's payload (nil if it is no answer this build writes).
    static func parse(_ payload: [UInt8]) -> (ForceLeaveOutcome, String?)? {
        guard payload.count <= 512, let text = String(validating: payload, as: UTF8.self) else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let first = parts.first, let outcome = ForceLeaveOutcome(rawValue: String(first)) else { return nil }
        return (outcome, parts.count == 2 ? String(parts[1].drop { $0 == " " }) : nil)
    }
}

/// A force-leave across the swarm: who answered and what it did there.
public struct ForceLeaveSummary: Sendable, Equatable, Codable {
    /// The member forced out: its id and name.
    public var id: String
    public var name: String
    public var incarnation: UInt64
    public var prune: Bool
    /// Live members (the target excluded) when the order went out: how many answers to wait for.
    public var nodes: Int
    /// Members that answered before the deadline.
    public var responses: Int
    /// How many answering members ended with each outcome (`ForceLeaveOutcome`'s names).
    public var outcomes: [String: Int]
    /// Refusals and unreadable answers, by member name.
    public var errors: [String: String]

    public init(_ f: ForceLeave, name: String, nodes: Int) {
        id = f.id.description
        self.name = name
        incarnation = f.incarnation
        prune = f.prune
        self.nodes = nodes
        responses = 0
        outcomes = [:]
        errors = [:]
    }

    /// Every live member answered and none refused.
    public var complete: Bool { responses >= nodes && errors.isEmpty }

    /// Count one member's answer. True once every member live at the start has answered. The
    /// target itself (alive after all: it refuted) is counted by outcome only, as `nodes`
    /// leaves it out.
    public mutating func record(_ r: QueryResponse) -> Bool {
        if r.from.description != id { responses += 1 }
        if let (outcome, reason) = ForceLeaveOutcome.parse(r.payload) {
            outcomes[outcome.rawValue, default: 0] += 1
            if outcome == .refused { errors[r.name] = reason ?? "refused" }
        } else {
            errors[r.name] = "unreadable answer"
        }
        return responses >= nodes
    }
}

/// Why this node will not send a force-leave.
public enum ForceLeaveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No member by this name or id here.
    case unknownMember(String)
    /// The member is alive here: force-leave is for failed members (a live one refutes it).
    case alive(String)
    /// A node cannot force itself out: it leaves (`colony leave`).
    case isSelf
    /// Operators are required and the order is not one of theirs, or is stale.
    case order(OrderRefusal)
    /// The query could not be sent (the node is not running, …).
    case state(StateError)

    public var description: String {
        switch self {
        case .unknownMember(let m): "no member '\(m)' here (colony members lists them)"
        case .alive(let m):
            "\(m) is alive here: force-leave is for failed members (a live member refutes it; "
                + "to make it leave, run colony leave on it)"
        case .isSelf: "a node cannot force itself out: use colony leave"
        case .order(let r): "\(r)"
        case .state(let e): "\(e)"
        }
    }
}
