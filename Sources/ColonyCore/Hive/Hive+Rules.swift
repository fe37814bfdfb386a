/// The hive's election and lease rules (Raft §5.2 and §5.4 with pre-vote and check-quorum,
/// thesis §9.6; docs/design.md §5), decided on the machine alone. `NodeCore+Election` and
/// `NodeCore+Queen` check signatures and membership around them and send the messages.
extension Hive {
    /// A queen was heard within the shortest election timeout: requests to vote are ignored,
    /// terms included (Raft thesis §4.2.3: a removed or cut-off member cannot disrupt).
    func queenRecentlyHeard(now: Instant, _ settings: HiveSettings) -> Bool {
        guard let at = standing.seat?.heardQueenAt else { return false }
        return now - at < settings.electionTimeoutMin
    }

    /// Queen only: the lease is held at `now`.
    func holdsLease(now: Instant) -> Bool {
        role == .queen && (leaseUntil.map { $0 > now } ?? false)
    }

    /// This run cast no vote in `cell` for anyone else in `term`, nor in any later term (its
    /// only record of votes: `lastVotes`, kept when it leaves the cell).
    func mayVote(cell: CellID, term: UInt64, for candidate: NodeID) -> Bool {
        guard let last = lastVotes[cell] else { return true }
        return last.term < term || (last.term == term && last.candidate == candidate)
    }

    /// Remember the vote cast in `cell` (a member that comes back must not vote twice in one
    /// term); an older term never overwrites a newer one.
    mutating func noteVote(cell: CellID, term: UInt64, candidate: NodeID) {
        if let last = lastVotes[cell], last.term > term { return }
        lastVotes[cell] = (term, candidate)
    }

    /// Would this member grant `candidate` a (pre-)vote in `term`? Only for its own cell, a
    /// voter of its roster, a later term and a roster at least as new; never while its queen
    /// is heard or it holds the lease, nor for a graylisted candidate, nor twice in a term.
    func wouldVote(
        cell: CellID, term: UInt64, version: RosterVersion, candidate: Voter, graylisted: Bool, now: Instant,
        _ settings: HiveSettings
    ) -> Bool {
        guard cell == self.cell, let roster, roster.contains(candidate), term > self.term, version >= roster.version,
            !queenRecentlyHeard(now: now, settings), !holdsLease(now: now), !graylisted
        else { return false }
        if let last = lastVotes[cell], last.term >= term { return false }
        return true
    }

    /// The highest value a majority of `roster` has reached.
    static func majorityValue<T: Comparable>(_ roster: Roster, _ value: (Voter) -> T) -> T {
        roster.voters.map(value).sorted(by: >)[roster.majority - 1]
    }
}

extension Hive.Reign {
    /// The round a majority of `roster` acknowledged (the queen, `me`, acknowledges her own
    /// round as she sends it); the lease runs `lease` from when that round was sent, and only
    /// grows. Returns whether it grew.
    @discardableResult
    mutating func extendLease(roster: Roster, me: NodeID, lease: Duration) -> Bool {
        let r = Hive.majorityValue(roster) { v in v.id == me ? round : acked[v.id]?.round ?? 0 }
        guard r > 0, let sent = roundSentAt[r] else { return false }
        let until = sent + lease
        guard leaseUntil.map({ until > $0 }) ?? true else { return false }
        leaseUntil = until
        return true
    }

    /// The roster version a majority of `roster` acknowledged (the queen's own is `roster`'s).
    func acknowledgedVersion(roster: Roster, me: NodeID) -> RosterVersion {
        Hive.majorityValue(roster) { v in v.id == me ? roster.version : acked[v.id]?.version ?? .zero }
    }
}
