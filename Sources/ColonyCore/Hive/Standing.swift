/// Where a member stands in the hive, with the data only that standing has: a transition
/// builds the next standing whole, so nothing of a queen's reign outlives it and a homeless
/// member has no cell to forget to clear.
extension Hive {
    enum Standing: Sendable {
        /// In no cell: looking for one to enlist with (or to found).
        case homeless(Search)
        /// In a cell, with a place in it and an office.
        case seated(Seat, Office)

        var role: Role {
            switch self {
            case .homeless: .homeless
            case .seated(_, .worker): .worker
            case .seated(_, .preCandidate): .preCandidate
            case .seated(_, .candidate): .candidate
            case .seated(_, .queen): .queen
            }
        }

        var seat: Seat? {
            guard case .seated(let s, _) = self else { return nil }
            return s
        }
    }

    /// What a member in a cell does there, with the data only that office has.
    enum Office: Sendable {
        case worker
        /// Asking for pre-votes (term not yet raised), with those granted so far (ours too).
        case preCandidate(votes: Set<NodeID>)
        /// Asking for votes in its term, with those granted so far (ours too).
        case candidate(votes: Set<NodeID>)
        case queen(Reign)
    }

    /// A homeless member's search.
    struct Search: Sendable {
        /// The cell asked to admit us, and when (answered by `enlisted`, then a heartbeat).
        var enlisting: (cell: CellID, at: Instant)?
        /// When to found a cell if none is open by then, once drawn (a fresh search draws anew).
        var foundAt: Instant?
    }

    /// A place in a cell: what every member of a cell keeps, whatever its role.
    struct Seat: Sendable {
        var cell: CellID
        var term: UInt64
        /// The queen of `term`, once known.
        var queen: NodeID?
        var roster: Roster
        /// When this member last heard its queen (the stickiness window starts here).
        var heardQueenAt: Instant?
        /// When it last had a queen (or was one): with none for `abandonAfter`, it leaves.
        var lastQueenAt: Instant
        /// When a worker with no queen campaigns (and a candidate's election times out).
        var electionDeadline: Instant?
        /// This worker's pledges to its queen of `term`: how many it sent, the last when.
        var pledge: (term: UInt64, queen: NodeID, sent: Int, lastMs: UInt64)?

        init(
            cell: CellID, term: UInt64, queen: NodeID? = nil, roster: Roster, heardQueenAt: Instant? = nil,
            lastQueenAt: Instant, electionDeadline: Instant? = nil
        ) {
            self.cell = cell
            self.term = term
            self.queen = queen
            self.roster = roster
            self.heardQueenAt = heardQueenAt
            self.lastQueenAt = lastQueenAt
            self.electionDeadline = electionDeadline
        }
    }

    /// A queen's reign: her lease, heartbeat rounds and what each voter acknowledged, the
    /// roster changes queued, a split under way and her claim to the swarm.
    struct Reign: Sendable {
        var electedAt: Instant
        /// Until when she holds the lease (nil: none yet).
        var leaseUntil: Instant?
        var round: UInt64 = 0
        var roundSentAt: [UInt64: Instant] = [:]
        var acked: [NodeID: (round: UInt64, version: RosterVersion, at: Instant)] = [:]
        /// The roster version a majority acknowledged (a founded cell's first, at once).
        var committed: RosterVersion = .zero
        var pending: [(add: Bool, voter: Voter)] = []
        var split: Split?
        /// Voters just removed, told so with the next heartbeat round.
        var farewell: [Voter] = []
        /// Since when the cell is below its low-water mark.
        var lowSince: Instant?
        /// When and at what size her claim was last published (set as she is crowned).
        var claimedAt: Instant = .zero
        var claimedSize: UInt32 = 0
        /// Her workers' pledges to her in this term (checked as they came).
        var pledges: [NodeID: Pledge] = [:]
    }

    /// Breeding under way: the new cell, its designated queen and the voters handed to it
    /// (removed from our roster one at a time, the designate last).
    struct Split: Sendable {
        var cell: CellID
        var designate: Voter
        var voters: [Voter]
        var at: Instant
    }

    // MARK: Reading the standing

    public var role: Role { standing.role }
    public var cell: CellID? { standing.seat?.cell }
    /// 0 outside any cell.
    public var term: UInt64 { standing.seat?.term ?? 0 }
    /// The queen of `term`, once known.
    public var queen: NodeID? { standing.seat?.queen }
    public var roster: Roster? { standing.seat?.roster }
    /// Queen only: until when she holds the lease (nil: none yet, or not a queen).
    package var leaseUntil: Instant? {
        guard case .seated(_, .queen(let reign)) = standing else { return nil }
        return reign.leaseUntil
    }
    var isSeated: Bool { standing.seat != nil }

    /// Pre-votes or votes granted so far (empty unless campaigning).
    var votes: Set<NodeID> {
        switch standing {
        case .seated(_, .preCandidate(let votes)), .seated(_, .candidate(let votes)): votes
        default: []
        }
    }

    // MARK: Changing it in place

    /// This member's place in its cell. Only for a member in one: reaching here homeless
    /// is a bug in the caller, which checks `cell` first.
    var seat: Seat {
        get {
            guard let s = standing.seat else { preconditionFailure("the hive: no seat outside a cell") }
            return s
        }
        _modify {
            guard case .seated(var s, let office) = standing else {
                preconditionFailure("the hive: no seat outside a cell")
            }
            standing = .homeless(Search()) // `s` is held once: changing it copies nothing
            defer { standing = .seated(s, office) }
            yield &s
        }
    }

    /// The queen's reign. Only for a queen: callers check `role == .queen` first.
    var reign: Reign {
        get {
            guard case .seated(_, .queen(let r)) = standing else { preconditionFailure("the hive: not a queen") }
            return r
        }
        _modify {
            guard case .seated(let s, .queen(var r)) = standing else {
                preconditionFailure("the hive: not a queen")
            }
            standing = .homeless(Search())
            defer { standing = .seated(s, .queen(r)) }
            yield &r
        }
    }

    /// A homeless member's search. Only for a homeless member.
    var search: Search {
        get {
            guard case .homeless(let s) = standing else { preconditionFailure("the hive: not homeless") }
            return s
        }
        _modify {
            guard case .homeless(var s) = standing else { preconditionFailure("the hive: not homeless") }
            defer { standing = .homeless(s) }
            yield &s
        }
    }

    /// The cell a homeless member asked to admit it, if any (nil once seated).
    var enlisting: (cell: CellID, at: Instant)? {
        get {
            guard case .homeless(let s) = standing else { return nil }
            return s.enlisting
        }
        set { search.enlisting = newValue }
    }

    // MARK: Transitions

    /// Take `seat` as a worker (admitted, bred into a new cell).
    mutating func serve(in seat: Seat) { standing = .seated(seat, .worker) }

    /// Back to worker in the same cell (stepped down, outvoted, not fit to stand).
    mutating func becomeWorker() { standing = .seated(seat, .worker) }

    /// Ask for pre-votes (`pre`) or votes, with our own.
    mutating func campaign(pre: Bool, me: NodeID) {
        standing = .seated(seat, pre ? .preCandidate(votes: [me]) : .candidate(votes: [me]))
    }

    /// Count a granted (pre-)vote; returns how many there are now (0 if not campaigning).
    mutating func count(vote from: NodeID) -> Int {
        guard case .seated(let s, let office) = standing else { return 0 }
        switch office {
        case .preCandidate(var votes):
            votes.insert(from)
            standing = .seated(s, .preCandidate(votes: votes))
            return votes.count
        case .candidate(var votes):
            votes.insert(from)
            standing = .seated(s, .candidate(votes: votes))
            return votes.count
        case .worker, .queen:
            return 0
        }
    }

    /// Rule `seat`'s cell, a new reign beginning.
    mutating func crown(in seat: Seat, _ reign: Reign) { standing = .seated(seat, .queen(reign)) }

    /// Leave the cell: homeless, searching afresh.
    mutating func becomeHomeless() { standing = .homeless(Search()) }
}
