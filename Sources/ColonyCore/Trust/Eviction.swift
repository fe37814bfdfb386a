/// Eviction (docs/design.md §5–6): a queen's signed order that keeps a member out of the swarm
/// until it expires or is lifted. It is a reserved state record (`_colony/evicted/<id>`),
/// so it reaches every member — joiners and members that were away included — and every
/// member refuses the evicted identity meanwhile (its packets, its alive claims, its place
/// in any cell), exactly as it refuses a revoked one.
///
/// An eviction must carry its own justification, checkable by anyone without knowing the
/// cell's history: either signed accusations from a majority of the accused's cellmates (and
/// at least `Eviction.minimumAccusers`) whose penalties add up to the eviction threshold —
/// the swarm's reputation of the member, `TrustSettings.evictThreshold` — with the accused's
/// own signed pledge to the issuer when it is a worker, or the authority's revocation of the
/// identity. One member alone, queens included, cannot evict anybody, and members who
/// collude from outside a cell cannot evict one of its members.

/// A member's signed statement that it graylisted `accused`: its score of it at `atMs`
/// (its wall clock) was `-penalty`.
public struct Accusation: Hashable, Sendable {
    public var accused: NodeID
    public var accuser: NodeID
    public var atMs: UInt64
    /// The accuser's score of the accused, negated (a score is negative when it accuses).
    public var penalty: UInt64
    public var signature: Signature?

    public init(accused: NodeID, accuser: NodeID, atMs: UInt64, penalty: UInt64, signature: Signature? = nil) {
        self.accused = accused
        self.accuser = accuser
        self.atMs = atMs
        self.penalty = penalty
        self.signature = signature
    }
}

public struct Eviction: Hashable, Sendable {
    /// The evicted identity.
    public var id: NodeID
    /// The queen that issued it (and the state record's origin), her cell and term.
    public var issuer: NodeID
    public var cell: CellID
    public var term: UInt64
    /// Issued at, and refused until (wall-clock ms since the epoch, the issuer's clock).
    public var atMs: UInt64
    public var expiresMs: UInt64
    /// The justification: accusations, or the authority's revocation.
    public var accusations: [Accusation]
    public var revocation: Revocation?
    /// The issuer lifted it (an operator's `colony hive lift`): the identity may return.
    public var lifted: Bool
    /// How many members besides the accused its cell had when it was issued (the issuer's
    /// roster, or an accused queen's own claim), at most `maximumCellmates`: what the quorum
    /// is counted against (`requiredAccusers`).
    public var cellmates: UInt64
    /// The accused worker's pledge to the issuer for `cell` and `term`, signed at most
    /// `Pledge.maximumAgeMs` before `atMs`: the issuer was its queen.
    public var pledge: Pledge?
    /// An accused queen's own signed claim to her cell (evicted by another cell's queen): what
    /// her cell counts, checkable by anyone. A reputation eviction carries exactly one of
    /// `pledge` and `accusedClaim`; a revocation neither.
    public var accusedClaim: QueenClaim?
    /// The issuer's signature of `SignedClaim.eviction(self)`.
    public var signature: Signature?

    public init(
        id: NodeID, issuer: NodeID, cell: CellID, term: UInt64, atMs: UInt64, expiresMs: UInt64,
        accusations: [Accusation] = [], revocation: Revocation? = nil, lifted: Bool = false, cellmates: UInt64 = 0,
        pledge: Pledge? = nil, accusedClaim: QueenClaim? = nil, signature: Signature? = nil
    ) {
        self.id = id
        self.issuer = issuer
        self.cell = cell
        self.term = term
        self.atMs = atMs
        self.expiresMs = expiresMs
        self.accusations = accusations
        self.revocation = revocation
        self.lifted = lifted
        self.cellmates = cellmates
        self.pledge = pledge
        self.accusedClaim = accusedClaim
        self.signature = signature
    }

    /// Reserved keys of the replicated state hold evictions, one per identity and issuer:
    /// `_colony/evicted/<id>/<issuer>`. Only the issuer writes its key (records are signed
    /// by their origin), so no one else can lift or shorten what she issued.
    public static let keyPrefix = "_colony/evicted/"
    public var key: String { Self.keyPrefix + id.description + "/" + issuer.description }

    /// Distinct accusers an eviction by reputation needs at least (the queen's own counts),
    /// however grave their penalties.
    package static let minimumAccusers = 2
    /// Accusations older than this when the eviction is issued do not count (nor ones
    /// dated more than `accusationSkewMs` after it: clocks differ a little).
    package static let accusationWindowMs: UInt64 = 120_000
    package static let accusationSkewMs: UInt64 = 10_000
    /// No eviction lasts longer than this (a forged or mistaken one cannot last forever).
    package static let maximumMs: UInt64 = 30 * 86_400_000
    /// At most this many accusations are carried (bounds the record).
    package static let maximumAccusations = 64
    /// Cells are counted up to this many members besides the accused (`HiveSettings.
    /// cellHighWater`'s default is 64): a larger cell, or a queen claiming one, needs no more
    /// accusers than a record carries.
    package static let maximumCellmates = UInt64(maximumAccusations) - 1

    /// `count` cellmates, as an eviction counts them.
    package static func cellmates(_ count: Int) -> UInt64 { UInt64(max(0, min(count, Int(maximumCellmates)))) }

    /// Distinct accusers an eviction by reputation needs: a majority of the accused's
    /// cellmates, never fewer than `minimumAccusers` — or, where no accuser is known to be one
    /// of them (`anywhere`: a queen's cell, seen from another), as many as the cell counts.
    package static func requiredAccusers(cellmates: UInt64, anywhere: Bool = false) -> Int {
        let mates = Int(min(cellmates, maximumCellmates))
        return max(minimumAccusers, anywhere ? mates + 1 : mates / 2 + 1)
    }
    /// Members take at most `maximumPerIssuer` evictions from one issuer within
    /// `rateWindowMs` of each other: a rogue queen cannot empty the swarm.
    package static let maximumPerIssuer = 16
    package static let rateWindowMs: UInt64 = 3_600_000

    /// Why, in words (the API and the CLI show it).
    public var reason: String { revocation != nil ? "revoked" : "reputation" }

    /// In force at wall time `ms`.
    public func inForce(atMs ms: UInt64) -> Bool { !lifted && ms < expiresMs }

    package var encoded: [UInt8] {
        var out: [UInt8] = []
        out.nodeID(id)
        out.nodeID(issuer)
        out.cellID(cell)
        out.varint(term)
        out.varint(atMs)
        out.varint(expiresMs)
        out.varint(UInt64(accusations.count))
        for a in accusations {
            out.nodeID(a.accuser)
            out.varint(a.atMs)
            out.varint(a.penalty)
            out.signature(a.signature)
        }
        if let r = revocation {
            out.write(1)
            out.bytesField(r.encoded)
        } else {
            out.write(0)
        }
        out.write(lifted ? 1 : 0)
        out.varint(cellmates)
        if let p = pledge {
            out.write(1)
            out.varint(p.boot)
            out.varint(p.atMs)
            out.signature(p.signature)
        } else {
            out.write(0)
        }
        if let c = accusedClaim {
            out.write(1)
            out.queenClaimBody(c)
            out.signature(c.signature)
        } else {
            out.write(0)
        }
        out.signature(signature)
        return out
    }

    package init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        let id = try r.nodeID()
        let issuer = try r.nodeID()
        let cell = try r.cellID()
        let term = try r.varint()
        let at = try r.varint()
        let expires = try r.varint()
        let n = try r.count("accusations", minBytes: 19)
        guard n <= Self.maximumAccusations else { throw .valueOutOfRange(field: "accusations", offset: 0) }
        var accusations: [Accusation] = []
        for _ in 0..<n {
            let accuser = try r.nodeID()
            let when = try r.varint()
            let penalty = try r.varint()
            accusations.append(
                Accusation(accused: id, accuser: accuser, atMs: when, penalty: penalty, signature: try r.signature()))
        }
        let revocation: Revocation? = try r.flag("revocation flag") ? try Revocation(decoding: try r.bytesField()) : nil
        let lifted = try r.flag("lifted")
        let cellmates = try r.varint()
        guard cellmates <= Self.maximumCellmates else { throw .valueOutOfRange(field: "cellmates", offset: 0) }
        let pledge: Pledge? =
            try r.flag("pledge flag")
            ? Pledge(boot: try r.varint(), atMs: try r.varint(), signature: try r.signature()) : nil
        let accusedClaim: QueenClaim? = try r.flag("claim flag") ? try r.queenClaim() : nil
        let signature = try r.signature()
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
        self.init(
            id: id, issuer: issuer, cell: cell, term: term, atMs: at, expiresMs: expires, accusations: accusations,
            revocation: revocation, lifted: lifted, cellmates: cellmates, pledge: pledge, accusedClaim: accusedClaim,
            signature: signature)
    }
}

extension SignedClaim {
    public static func accusation(_ a: Accusation) -> [UInt8] {
        var out: [UInt8] = Array("colony/accusation/1".utf8)
        out.nodeID(a.accused)
        out.nodeID(a.accuser)
        out.varint(a.atMs)
        out.varint(a.penalty)
        return out
    }

    /// Everything but the issuer's signature (accusations with theirs: they are evidence).
    public static func eviction(_ e: Eviction) -> [UInt8] {
        var unsigned = e
        unsigned.signature = nil
        return Array("colony/eviction/1".utf8) + unsigned.encoded
    }

    public static func liftRequest(evicted: NodeID, by: NodeID) -> [UInt8] {
        var out: [UInt8] = Array("colony/lift/1".utf8)
        out.nodeID(evicted)
        out.nodeID(by)
        return out
    }
}

/// Why an eviction could not be lifted.
public enum LiftError: Error, Equatable, CustomStringConvertible {
    case notEvicted(NodeID)
    /// The issuer is not live: the eviction stands until it expires.
    case issuerGone(NodeID)
    /// Operators are required and no eviction had an operator's order to lift it.
    case order(OrderRefusal)

    public var description: String {
        switch self {
        case .notEvicted(let id): "\(id) is not evicted"
        case .issuerGone(let q): "the queen that issued the eviction (\(q)) is not live; it stands until it expires"
        case .order(let r): "\(r) (a lift names each eviction: its issuer and time, as colony hive evictions shows)"
        }
    }
}
