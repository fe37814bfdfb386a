import Testing

@testable import ColonyCore

/// The `Hive` machine on its own: randomised election timeouts (Raft §5.2).
@Suite(.tags(.machine)) struct HiveMachineTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func electionTimeoutsStayInTheirWindowAndSpread(seed: UInt64) {
        var hive = Hive(boot: 1, bootedAt: .zero, rng: Xoshiro256(seed: seed))
        let settings = HiveSettings()
        let lo = settings.electionTimeoutMin
        let hi = settings.electionTimeoutMax
        var drawn: Set<Int64> = []
        for _ in 0..<200 {
            let t = hive.randomElectionTimeout(settings)
            #expect(t >= lo && t < hi)
            #expect(t == .nanoseconds(t.nanosecondsInt64), "whole nanoseconds")
            drawn.insert(t.wholeMilliseconds)
        }
        #expect(drawn.count > 50, "timeouts spread over the window (ms buckets hit: \(drawn.count))")
    }

    @Test func aDegenerateWindowStillGivesItsMinimum() {
        var hive = Hive(boot: 1, bootedAt: .zero, rng: Xoshiro256(seed: 9))
        var settings = HiveSettings()
        settings.electionTimeoutMax = settings.electionTimeoutMin
        #expect(hive.randomElectionTimeout(settings) == settings.electionTimeoutMin)
    }
}

/// The hive's standings: each transition builds the next standing whole, so what a role
/// kept does not outlive it.
@Suite(.tags(.machine)) struct HiveStandingTests {
    static let me = Fixture.id(1)
    static let other = Fixture.id(2)

    static func seat(term: UInt64 = 3) -> Hive.Seat {
        let voters = [Voter(id: me, boot: 1), Voter(id: other, boot: 1), Voter(id: Fixture.id(3), boot: 1)]
        let roster = Roster(cell: CellID(7), version: RosterVersion(term: term, index: 2), voters: voters)
        return Hive.Seat(cell: CellID(7), term: term, roster: roster, lastQueenAt: .zero)
    }

    @Test func aHomelessMemberHasNoCellTermQueenOrRoster() {
        let hive = Hive()
        #expect(hive.role == .homeless)
        #expect(hive.cell == nil && hive.term == 0 && hive.queen == nil && hive.roster == nil)
        #expect(hive.leaseUntil == nil && hive.votes.isEmpty && hive.enlisting == nil)
    }

    @Test func votesAreCountedOnlyWhileCampaigningAndGoWithTheCampaign() {
        var hive = Hive()
        hive.serve(in: Self.seat())
        #expect(hive.count(vote: Self.other) == 0, "a worker counts no votes")
        hive.campaign(pre: true, me: Self.me)
        #expect(hive.role == .preCandidate && hive.votes == [Self.me])
        #expect(hive.count(vote: Self.other) == 2)
        #expect(hive.count(vote: Self.other) == 2, "one vote per voter")
        hive.campaign(pre: false, me: Self.me)
        #expect(hive.role == .candidate && hive.votes == [Self.me], "the real election starts its own tally")
        hive.becomeWorker()
        #expect(hive.votes.isEmpty)
    }

    @Test func aReignEndsWholeWhenTheQueenStepsDown() {
        var hive = Hive()
        hive.serve(in: Self.seat())
        var reign = Hive.Reign(electedAt: .zero)
        reign.leaseUntil = Instant.milliseconds(500)
        reign.pending = [(add: true, voter: Voter(id: Fixture.id(4), boot: 1))]
        reign.round = 9
        hive.crown(in: hive.seat, reign)
        #expect(hive.role == .queen && hive.leaseUntil == Instant.milliseconds(500))
        hive.reign.round += 1
        #expect(hive.reign.round == 10)
        hive.becomeWorker()
        #expect(hive.role == .worker && hive.leaseUntil == nil)
        hive.crown(in: hive.seat, Hive.Reign(electedAt: .milliseconds(900)))
        #expect(hive.reign.pending.isEmpty && hive.reign.round == 0 && hive.leaseUntil == nil)
    }

    @Test func changingTheSeatKeepsTheOfficeAndItsData() {
        var hive = Hive()
        hive.serve(in: Self.seat())
        hive.campaign(pre: false, me: Self.me)
        _ = hive.count(vote: Self.other)
        hive.seat.term += 1
        hive.seat.heardQueenAt = .milliseconds(5)
        #expect(hive.role == .candidate && hive.term == 4 && hive.votes.count == 2)
        hive.becomeHomeless()
        #expect(hive.cell == nil && hive.term == 0 && hive.votes.isEmpty)
        hive.enlisting = (CellID(9), .milliseconds(10))
        #expect(hive.enlisting?.cell == CellID(9))
        hive.serve(in: Self.seat())
        #expect(hive.enlisting == nil, "a seated member is enlisting nowhere")
    }

    @Test func aNewSearchAndANewReignStartFromNothing() {
        var hive = Hive()
        hive.search.foundAt = .milliseconds(100)
        hive.serve(in: Self.seat())
        hive.becomeHomeless()
        #expect(hive.search.foundAt == nil, "a founding time drawn before a seat is not reused after it")
        hive.serve(in: Self.seat())
        var reign = Hive.Reign(electedAt: .zero)
        reign.committed = RosterVersion(term: 40, index: 9)
        hive.crown(in: hive.seat, reign)
        hive.becomeHomeless()
        hive.serve(in: Self.seat(term: 3))
        hive.crown(in: hive.seat, Hive.Reign(electedAt: .milliseconds(5)))
        #expect(hive.reign.committed == .zero, "another cell's commit (a higher term) does not carry over")
    }

    @Test func readingAQueensReignOutsideAReignIsABug() async {
        await #expect(processExitsWith: .failure) {
            let hive = Hive()
            _ = hive.reign
        }
        await #expect(processExitsWith: .failure) {
            var hive = Hive()
            hive.seat.term = 2
        }
    }

    // MARK: Votes and the lease, on the machine alone

    let cell = CellID(1)
    var voters: [Voter] { (0..<5).map { Voter(id: Fixture.id($0), boot: 1) } }

    /// A worker (member 0) of a five-voter cell in term 3, roster version (3, 1).
    func worker(heardQueenAt: Instant? = nil) -> Hive {
        var hive = Hive(boot: 1, bootedAt: .zero, rng: Xoshiro256(seed: 1))
        let roster = Roster(cell: cell, version: RosterVersion(term: 3, index: 1), voters: voters)
        hive.serve(in: Hive.Seat(cell: cell, term: 3, roster: roster, heardQueenAt: heardQueenAt, lastQueenAt: .zero))
        return hive
    }

    @Test func aVoteGoesToOneCandidatePerTermAndOnlyForward() {
        var hive = worker()
        #expect(hive.mayVote(cell: cell, term: 4, for: Fixture.id(1)), "no vote cast yet")
        hive.noteVote(cell: cell, term: 4, candidate: Fixture.id(1))
        #expect(hive.mayVote(cell: cell, term: 4, for: Fixture.id(1)), "the same candidate again")
        #expect(!hive.mayVote(cell: cell, term: 4, for: Fixture.id(2)), "never two candidates in a term")
        #expect(!hive.mayVote(cell: cell, term: 3, for: Fixture.id(2)), "nor in an earlier term")
        #expect(hive.mayVote(cell: cell, term: 5, for: Fixture.id(2)))
        hive.noteVote(cell: cell, term: 2, candidate: Fixture.id(3))
        #expect(hive.lastVotes[cell]?.term == 4, "an older vote never overwrites a newer one")
        #expect(hive.mayVote(cell: CellID(2), term: 1, for: Fixture.id(3)), "votes are per cell")
    }

    @Test func preVotesAreRefusedWhileTheQueenIsHeard() {
        let settings = HiveSettings()
        let candidate = voters[1]
        let version = RosterVersion(term: 3, index: 1)
        let heard = worker(heardQueenAt: Fixture.ms(1_000))
        let withinWindow = Fixture.ms(1_000) + settings.electionTimeoutMin - .milliseconds(1)
        #expect(heard.queenRecentlyHeard(now: withinWindow, settings))
        #expect(
            !heard.wouldVote(
                cell: cell, term: 4, version: version, candidate: candidate, graylisted: false, now: withinWindow,
                settings))
        let after = Fixture.ms(1_000) + settings.electionTimeoutMin
        #expect(!heard.queenRecentlyHeard(now: after, settings))
        #expect(
            heard.wouldVote(
                cell: cell, term: 4, version: version, candidate: candidate, graylisted: false, now: after, settings))
        // Each condition on its own refuses.
        let refusals: [(CellID, UInt64, RosterVersion, Voter, Bool)] = [
            (CellID(9), 4, version, candidate, false), // another cell
            (cell, 3, version, candidate, false), // not a later term
            (cell, 4, RosterVersion(term: 3, index: 0), candidate, false), // an older roster
            (cell, 4, version, Voter(id: Fixture.id(9), boot: 1), false), // not a voter
            (cell, 4, version, candidate, true), // graylisted
        ]
        for (c, term, v, who, gray) in refusals {
            #expect(
                !heard.wouldVote(
                    cell: c, term: term, version: v, candidate: who, graylisted: gray, now: after, settings))
        }
    }

    @Test func theLeaseRunsFromTheRoundAMajorityAcknowledged() {
        let roster = Roster(cell: cell, version: RosterVersion(term: 3, index: 1), voters: voters)
        var reign = Hive.Reign(electedAt: .zero)
        let lease = Duration.milliseconds(500)
        reign.round = 3
        reign.roundSentAt = [1: Fixture.ms(100), 2: Fixture.ms(200), 3: Fixture.ms(300)]
        reign.acked[Fixture.id(1)] = (2, roster.version, Fixture.ms(210))
        var grew = reign.extendLease(roster: roster, me: Fixture.id(0), lease: lease)
        #expect(!grew, "two of five: no majority")
        #expect(reign.leaseUntil == nil)
        reign.acked[Fixture.id(2)] = (1, .zero, Fixture.ms(110))
        grew = reign.extendLease(roster: roster, me: Fixture.id(0), lease: lease)
        #expect(grew)
        #expect(reign.leaseUntil == Fixture.ms(100) + lease, "the third-highest round (1) of {3, 2, 1, 0, 0}")
        #expect(reign.acknowledgedVersion(roster: roster, me: Fixture.id(0)) == .zero, "version: {v, v, 0, 0, 0}")
        reign.acked[Fixture.id(3)] = (3, roster.version, Fixture.ms(310))
        grew = reign.extendLease(roster: roster, me: Fixture.id(0), lease: lease)
        #expect(grew)
        #expect(reign.leaseUntil == Fixture.ms(200) + lease)
        #expect(reign.acknowledgedVersion(roster: roster, me: Fixture.id(0)) == roster.version)
        reign.roundSentAt[2] = Fixture.ms(50)
        grew = reign.extendLease(roster: roster, me: Fixture.id(0), lease: lease)
        #expect(!grew, "the lease never shrinks")
        #expect(reign.leaseUntil == Fixture.ms(200) + lease)
    }

    @Test func onlyAQueenHoldsALease() {
        var hive = worker()
        #expect(!hive.holdsLease(now: .zero))
        var reign = Hive.Reign(electedAt: .zero)
        reign.leaseUntil = Fixture.ms(500)
        hive.crown(in: hive.seat, reign)
        #expect(hive.holdsLease(now: Fixture.ms(499)) && !hive.holdsLease(now: Fixture.ms(500)))
    }
}
