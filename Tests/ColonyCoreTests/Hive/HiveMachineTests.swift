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
}
