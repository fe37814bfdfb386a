import HashTreeCollections
import Testing

@testable import ColonyCore

// Eviction (issue #6): members accuse those they graylist; queens pool accusations and evict
// once at least two accusers' scores add up below the threshold; the eviction is a signed,
// self-justifying state record every member checks and obeys until it expires or is lifted.

extension Net {
    /// Every core's writes are durable at once (the drivers' log, instantly).
    mutating func makeDurable() {
        for i in cores.keys.sorted() {
            let effects = cores[i]!.recordsDurable(through: cores[i]!.replicated.writeCounter, now: now)
            absorb(effects, from: i)
        }
        settle()
    }

    /// Run for `ms` in 10 ms steps, making writes durable after each.
    mutating func runDurably(for ms: Int64) {
        let end = now.advanced(byNanoseconds: ms * 1_000_000)
        while now < end {
            run(until: now.advanced(byNanoseconds: 10_000_000), step: 10)
            makeDurable()
        }
    }

    /// Node `accuser` meets `n` invalid signatures from `offender` (and says so at once).
    mutating func offend(_ accuser: Int, by offender: Int, times n: Int) {
        for _ in 0..<n { cores[accuser]!.penalize(Fixture.id(offender), .invalidSignature) }
        absorb(cores[accuser]!.tick(now: now), from: accuser)
        settle()
    }
}

@Suite(.tags(.node)) struct EvictionTests {
    static func formed(ttl: Duration = .seconds(3600)) -> Net {
        var s = Net.hiveSettings()
        s.hive.evictionTTL = ttl
        var net = Net.hive(9, settings: s, authenticate: true)
        _ = net.runUntilFormed()
        return net
    }

    /// `by`'s accusation of `target`, signed by `signer` (`by` itself unless given).
    static func accusation(of target: Int, by: Int, penalty: UInt64, signer: Int? = nil, atMs: UInt64 = 100)
        -> Accusation
    {
        var a = Accusation(accused: Fixture.id(target), accuser: Fixture.id(by), atMs: atMs, penalty: penalty)
        a.signature = Signature(
            publicKey: TestAuthenticator.publicKey(for: Fixture.id(by)),
            bytes: TT.auth(signer ?? by).sign(SignedClaim.accusation(a)))
        return a
    }

    /// `e` signed by `origin`, as the state record `origin` wrote.
    static func record(_ e: Eviction, origin: Int, counter: UInt64) -> StateRecord {
        var e = e
        e.signature = Signature(
            publicKey: TT.auth(origin).publicKey, bytes: TT.auth(origin).sign(SignedClaim.eviction(e)))
        var r = StateRecord(
            key: e.key, value: e.encoded, dot: Dot(origin: Fixture.id(origin), counter: counter), prev: 0,
            context: CausalContext(), timestamp: HLCTimestamp(physicalMs: 100, logical: 0))
        r.signature = Signature(
            publicKey: TT.auth(origin).publicKey, bytes: TT.auth(origin).sign(SignedClaim.record(r)))
        return r
    }

    /// `member`'s pledge to `queen` for `cell` in `term`, signed at `atMs` by `signer`
    /// (`member` itself unless given), as the member's current run.
    static func pledge(
        of member: Int, to queen: NodeID, cell: CellID, term: UInt64, atMs: UInt64, _ net: Net, signer: Int? = nil
    ) -> Pledge {
        let boot = net.cores[member]!.boot
        let claim = SignedClaim.pledge(
            cell: cell, term: term, queen: queen, member: Fixture.id(member), boot: boot, atMs: atMs)
        return Pledge(
            boot: boot, atMs: atMs,
            signature: Signature(
                publicKey: TestAuthenticator.publicKey(for: Fixture.id(member)),
                bytes: TT.auth(signer ?? member).sign(claim)))
    }

    /// A majority of `offender`'s cellmates (its queen's roster), the fewest that may get it
    /// evicted.
    static func quorum(against offender: Int, _ net: Net) -> [Int] {
        let queen = Int(net.cores[offender]!.hive.queen!.high)
        let mates = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.filter { $0 != offender }
        return Array(mates.prefix(Eviction.requiredAccusers(cellmates: UInt64(mates.count))))
    }

    /// A worker of some cell that is not the given nodes.
    static func worker(_ net: Net, except: Set<Int> = []) -> Int {
        net.cores.keys.sorted().first { net.cores[$0]!.hive.role == .worker && !except.contains($0) }!
    }

    @Test func aMajorityOfTheCellWhoseScoresAddUpGetsAMemberEvictedAndRefusedEverywhere() throws {
        var net = Self.formed()
        try #require(net.formed())
        let offender = Self.worker(net)
        let offendersQueen = try #require(net.cores[offender]!.hive.queen)
        let accusers = Self.quorum(against: offender, net)
        // Three invalid signatures each: -180 per accuser, -360 together (threshold -300).
        for a in accusers { net.offend(a, by: offender, times: 3) }
        net.runDurably(for: 1_000)
        let issued = net.cores.values.reduce(0) { $0 + $1.stats.trust.evictionsIssued }
        #expect(issued >= 1)
        for i in net.cores.keys.sorted() where i != offender {
            let c = net.cores[i]!
            #expect(c.isExcluded(Fixture.id(offender)), "node \(i) does not refuse the offender")
            #expect(c.member(Fixture.id(offender))?.status == .dead)
            #expect(c.hive.roster?.voter(for: Fixture.id(offender)) == nil || c.hive.role != .queen)
            let e = try #require(c.evictionsInForce.first { $0.id == Fixture.id(offender) })
            #expect(e.revocation == nil && Set(e.accusations.map(\.accuser)).count >= accusers.count)
            #expect(e.issuer == offendersQueen, "issued by the offender's own queen")
            #expect(e.pledge?.boot == net.cores[offender]!.boot, "carrying the offender's pledge to her")
        }
        // The evicted member was told, and left its cell; its packets are refused.
        #expect(net.cores[offender]!.isExcluded(Fixture.id(offender)))
        #expect(net.cores[offender]!.hive.cell == nil)
        let victim = accusers.first!
        let refusedBefore = net.cores[victim]!.stats.trust.revokedRefused
        _ = net.cores[victim]!.receive(
            Fixture.packet(from: offender, .gossip, []), from: Fixture.address(offender), now: net.now)
        #expect(net.cores[victim]!.stats.trust.revokedRefused == refusedBefore + 1)
        #expect(net.violations.isEmpty, "\(net.violations)")
    }

    @Test func oneAccuserAloneEvictsNobodyHoweverGrave() throws {
        var net = Self.formed()
        try #require(net.formed())
        let offender = Self.worker(net)
        let accuser = net.cores.keys.sorted().first { $0 != offender }!
        net.offend(accuser, by: offender, times: 10)
        net.runDurably(for: 3_000)
        for i in net.cores.keys.sorted() {
            #expect(!net.cores[i]!.isExcluded(Fixture.id(offender)))
            #expect(net.cores[i]!.stats.trust.evictionsIssued == 0)
        }
        // Accusers whose scores do not add up to the threshold evict nobody either.
        let mild = net.cores.keys.sorted().filter { $0 != offender && $0 != accuser }.prefix(3)
        let other = Self.worker(net, except: [offender, accuser])
        for a in mild where a != other { net.offend(a, by: other, times: 2) } // -80 each
        net.runDurably(for: 1_000)
        #expect(net.cores.values.allSatisfy { !$0.isExcluded(Fixture.id(other)) })
    }

    @Test func requestsLeftUnansweredGetNobodyEvicted() throws {
        var net = Self.formed()
        try #require(net.formed())
        let target = Self.worker(net)
        // Every other member graylists it for ignored ping-reqs: what a partition or a
        // pause looks like too. Nobody accuses it.
        for a in net.cores.keys.sorted() where a != target {
            for _ in 0..<4 { net.cores[a]!.penalize(Fixture.id(target), .unanswered) }
            #expect(net.cores[a]!.isGraylisted(Fixture.id(target)))
            net.absorb(net.cores[a]!.tick(now: net.now), from: a)
        }
        net.runDurably(for: 2_000)
        #expect(
            net.cores.values.allSatisfy { !$0.isExcluded(Fixture.id(target)) && $0.stats.trust.accusationsSent == 0 })
    }

    @Test func forgedOrUnjustifiedEvictionsAreRefused() throws {
        var net = Self.formed()
        try #require(net.formed())
        let target = Self.worker(net)
        let forger = Self.worker(net, except: [target])
        let receiver = net.cores.keys.sorted().first { $0 != target && $0 != forger }!
        // The target's own cell: its queen is the one member that may evict it.
        let cell = net.cores[target]!.hive.cell!
        func accusation(_ by: Int, penalty: UInt64, signer: Int? = nil, atMs: UInt64 = 100) -> Accusation {
            Self.accusation(of: target, by: by, penalty: penalty, signer: signer, atMs: atMs)
        }
        func record(_ e: Eviction, origin: Int, counter: UInt64) -> StateRecord {
            Self.record(e, origin: origin, counter: counter)
        }
        let others = net.cores.keys.sorted().filter { $0 != target && $0 != forger && $0 != receiver }
        let cellmates = UInt64(try #require(net.cores[receiver]!.hive.roster?.count) - 1)
        // Each carries the target's true pledge to its issuer and its cell's true size, so
        // that what is wrong with it is what its name says.
        func pledged(_ e: Eviction) -> Eviction {
            var e = e
            e.cellmates = cellmates
            e.pledge = Self.pledge(of: target, to: e.issuer, cell: e.cell, term: e.term, atMs: e.atMs, net)
            return e
        }
        let quorum = others.prefix(Eviction.requiredAccusers(cellmates: cellmates))
        try #require(quorum.count == Eviction.requiredAccusers(cellmates: cellmates))
        let rawCases: [(String, Eviction)] = [
            (
                "one accuser",
                Eviction(
                    id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                    expiresMs: 100_000,
                    accusations: [accusation(others[0], penalty: 10_000)])
            ),
            (
                "penalties below the threshold",
                Eviction(
                    id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                    expiresMs: 100_000,
                    accusations: [accusation(others[0], penalty: 100), accusation(others[1], penalty: 100)])
            ),
            (
                "a forged accusation",
                Eviction(
                    id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                    expiresMs: 100_000,
                    accusations: [
                        accusation(others[0], penalty: 200), accusation(others[1], penalty: 200, signer: forger),
                    ])
            ),
            (
                "the same accuser twice",
                Eviction(
                    id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                    expiresMs: 100_000,
                    accusations: [accusation(others[0], penalty: 200), accusation(others[0], penalty: 200)])
            ),
            (
                "longer than the maximum",
                Eviction(
                    id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                    expiresMs: 100 + Eviction.maximumMs + 1,
                    accusations: [accusation(others[0], penalty: 200), accusation(others[1], penalty: 200)])
            ),
        ]
        var cases = rawCases.map { ($0.0, pledged($0.1)) }
        // A worker's eviction without its pledge to the issuer: any queen could have issued it.
        var unpledged = pledged(
            Eviction(
                id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                expiresMs: 100_000, accusations: quorum.map { accusation($0, penalty: 200) }))
        unpledged.pledge = nil
        cases.append(("a worker's eviction without its pledge", unpledged))
        // A pledge signed more than a minute before the eviction: the worker may have moved on.
        var stale = pledged(
            Eviction(
                id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100_000,
                expiresMs: 200_000, accusations: quorum.map { accusation($0, penalty: 200, atMs: 100_000) }))
        stale.pledge = Self.pledge(
            of: target, to: stale.issuer, cell: cell, term: 1, atMs: 100_000 - Pledge.maximumAgeMs - 1, net)
        cases.append(("a stale pledge", stale))
        var counter: UInt64 = 1_000
        for (name, e) in cases {
            counter += 1
            // Forgive the relay each time: a graylisted sender's gossip would be ignored unread.
            net.cores[receiver]!.trust.scores[Fixture.id(forger)] = nil
            let invalid =
                net.cores[receiver]!.stats.state.recordsInvalid + net.cores[receiver]!.stats.trust.signaturesRejected
            _ = net.cores[receiver]!.receive(
                Fixture.packet(from: forger, .gossip, [.record(record(e, origin: forger, counter: counter))]),
                from: Fixture.address(forger), now: net.now)
            #expect(!net.cores[receiver]!.isExcluded(Fixture.id(target)), "\(name) was obeyed")
            #expect(
                net.cores[receiver]!.stats.state.recordsInvalid + net.cores[receiver]!.stats.trust.signaturesRejected
                    > invalid,
                "\(name) was not counted")
        }
        // Signed honestly but lying (issue 18): checked against the receiver's own view and
        // clock, refused without blaming the relay.
        let queenID = try #require(net.cores[receiver]!.hive.cells[cell]?.queen ?? net.cores[receiver]!.hive.queen)
        let queen = Int(queenID.high)
        try #require(queen != target)
        let nowMs = net.cores[receiver]!.wallMs
        let rawLies: [(String, Eviction, String, Int)] = [
            (
                "issued by a member that is not its cell's queen",
                Eviction(
                    id: Fixture.id(target), issuer: Fixture.id(forger), cell: cell, term: 1, atMs: 100,
                    expiresMs: 100_000,
                    accusations: quorum.map { accusation($0, penalty: 200) }),
                "not_queen", forger
            ),
            (
                "dated ahead of the receiver's clock",
                Eviction(
                    id: Fixture.id(target), issuer: queenID, cell: cell, term: 1, atMs: nowMs + 3_600_000,
                    expiresMs: nowMs + 7_200_000,
                    accusations: quorum.map { accusation($0, penalty: 200, atMs: nowMs + 3_600_000) }),
                "future", queen
            ),
            (
                "accused by identities that are no members",
                Eviction(
                    id: Fixture.id(target), issuer: queenID, cell: cell, term: 1, atMs: 100, expiresMs: 100_000,
                    accusations: quorum.indices.map { accusation(900 + $0, penalty: 200) }),
                "accusers", queen
            ),
        ]
        var lies = rawLies.map { ($0.0, pledged($0.1), $0.2, $0.3) }
        // The cell understated, so that fewer accusers make a majority of it.
        var understated = pledged(
            Eviction(
                id: Fixture.id(target), issuer: queenID, cell: cell, term: 1, atMs: 100, expiresMs: 100_000,
                accusations: [accusation(others[0], penalty: 200), accusation(others[1], penalty: 200)]))
        understated.cellmates = 1
        lies.append(("its cell understated", understated, "cellmates", queen))
        for (name, e, reason, origin) in lies {
            counter += 1
            let before = net.cores[receiver]!.stats.trust.evictionsRefused[reason, default: 0]
            _ = net.cores[receiver]!.receive(
                Fixture.packet(from: origin, .gossip, [.record(record(e, origin: origin, counter: counter))]),
                from: Fixture.address(origin), now: net.now)
            #expect(!net.cores[receiver]!.isExcluded(Fixture.id(target)), "\(name) was obeyed")
            #expect(net.cores[receiver]!.stats.trust.evictionsRefused[reason, default: 0] == before + 1, "\(name)")
        }
        #expect(net.cores[receiver]!.score(of: queenID) >= 0, "nobody is blamed for what the receiver cannot confirm")
        // Issued under another member's name: the record's origin is not the issuer.
        counter += 1
        let valid = pledged(
            Eviction(
                id: Fixture.id(target), issuer: queenID, cell: cell, term: 1, atMs: 100, expiresMs: 100_000,
                accusations: quorum.map { accusation($0, penalty: 200) }))
        // Its pledge signed by another than the accused: a forgery, refused.
        var forgedPledge = valid
        forgedPledge.pledge = Self.pledge(
            of: target, to: queenID, cell: cell, term: 1, atMs: valid.atMs, net, signer: forger)
        let rejected = net.cores[receiver]!.stats.trust.signaturesRejected
        _ = net.cores[receiver]!.receive(
            Fixture.packet(from: queen, .gossip, [.record(record(forgedPledge, origin: queen, counter: 1 << 19))]),
            from: Fixture.address(queen), now: net.now)
        #expect(!net.cores[receiver]!.isExcluded(Fixture.id(target)), "a forged pledge was obeyed")
        #expect(net.cores[receiver]!.stats.trust.signaturesRejected > rejected)
        net.cores[receiver]!.trust.scores[queenID] = nil
        _ = net.cores[receiver]!.receive(
            Fixture.packet(from: forger, .gossip, [.record(record(valid, origin: forger, counter: counter))]),
            from: Fixture.address(forger), now: net.now)
        #expect(!net.cores[receiver]!.isExcluded(Fixture.id(target)))
        // The same eviction from its true issuer, the cell's queen, is obeyed (the check can pass).
        _ = net.cores[receiver]!.receive(
            Fixture.packet(from: queen, .gossip, [.record(record(valid, origin: queen, counter: 1 << 20))]),
            from: Fixture.address(queen), now: net.now)
        #expect(net.cores[receiver]!.isExcluded(Fixture.id(target)))
    }

    @Test func aLiftedEvictionLetsTheMemberBack() throws {
        var net = Self.formed()
        try #require(net.formed())
        let offender = Self.worker(net)
        for a in Self.quorum(against: offender, net) { net.offend(a, by: offender, times: 3) }
        net.runDurably(for: 1_000)
        try #require(
            net.cores.keys.filter { $0 != offender }.allSatisfy { net.cores[$0]!.isExcluded(Fixture.id(offender)) })
        // Lift from a member that did not issue it: the request goes to the issuer.
        let issuer = try #require(net.cores.keys.sorted().first { net.cores[$0]!.stats.trust.evictionsIssued > 0 })
        let asker = net.cores.keys.sorted().first { $0 != offender && $0 != issuer }!
        let (result, effects) = net.cores[asker]!.lift(Fixture.id(offender), now: net.now)
        net.absorb(effects, from: asker)
        #expect((try? result.get())?.map(\.issuer) == [Fixture.id(issuer)])
        net.runDurably(for: 3_000)
        for i in net.cores.keys.sorted() where i != offender {
            #expect(!net.cores[i]!.isExcluded(Fixture.id(offender)), "node \(i) still refuses the lifted member")
            #expect(
                net.cores[i]!.member(Fixture.id(offender))?.status == .alive,
                "node \(i) does not hold the lifted member alive")
        }
        #expect(
            net.events.contains {
                if case .evictionEnded(let id, lifted: true) = $0.event { id == Fixture.id(offender) } else { false }
            })
        // Nothing left to lift.
        #expect(throws: LiftError.notEvicted(Fixture.id(offender))) {
            try net.cores[asker]!.lift(Fixture.id(offender), now: net.now).0.get()
        }
    }

    @Test func anEvictionExpiresAndTheMemberReturns() throws {
        var net = Self.formed(ttl: .seconds(2))
        try #require(net.formed())
        let offender = Self.worker(net)
        for a in Self.quorum(against: offender, net) { net.offend(a, by: offender, times: 3) }
        net.runDurably(for: 1_000)
        try #require(
            net.cores.keys.filter { $0 != offender }.allSatisfy { net.cores[$0]!.isExcluded(Fixture.id(offender)) })
        net.runDurably(for: 6_000)
        for i in net.cores.keys.sorted() where i != offender {
            #expect(!net.cores[i]!.isExcluded(Fixture.id(offender)))
            #expect(
                net.cores[i]!.member(Fixture.id(offender))?.status == .alive,
                "node \(i) does not hold the returned member alive")
        }
        #expect(
            net.events.contains {
                if case .evictionEnded(let id, lifted: false) = $0.event { id == Fixture.id(offender) } else { false }
            })
        // Over, its issuer deletes the record and the deletion spreads: the state does not keep
        // every eviction ever issued.
        net.runDurably(for: 12_000)
        for i in net.cores.keys.sorted() {
            let state = net.cores[i]!.state
            let held = state.keys(prefix: Eviction.keyPrefix).filter { k in
                state.keyState(k)?.siblings.contains { $0.value != nil } == true
            }
            #expect(held.isEmpty, "node \(i) still holds \(held)")
        }
    }

    @Test func oneIssuerEvictsAtMostSoManyAnHour() throws {
        var net = Self.formed()
        try #require(net.formed())
        let target = Self.worker(net)
        let receiver = net.cores.keys.sorted().first { $0 != target && net.cores[$0]!.hive.role == .worker }!
        let cell = try #require(net.cores[receiver]!.hive.cell)
        let queenID = try #require(net.cores[receiver]!.hive.queen)
        let accusers = Self.quorum(against: target, net).map { Fixture.id($0) }
        let nowMs = net.cores[receiver]!.wallMs
        let e = Eviction(
            id: Fixture.id(target), issuer: queenID, cell: cell, term: 1, atMs: nowMs, expiresMs: nowMs + 100_000,
            accusations: accusers.map {
                Accusation(accused: Fixture.id(target), accuser: $0, atMs: nowMs, penalty: 200)
            },
            cellmates: UInt64(net.cores[receiver]!.hive.roster!.count - 1),
            pledge: Self.pledge(of: target, to: queenID, cell: cell, term: 1, atMs: nowMs, net))
        #expect(net.cores[receiver]!.evictionRefusal(e) == nil, "the rules can pass")
        for k in 0..<Eviction.maximumPerIssuer {
            let id = NodeID(high: 5_000 + UInt64(k), low: 1)
            net.cores[receiver]!.trust.evictions[id] = [
                queenID: Eviction(
                    id: id, issuer: queenID, cell: cell, term: 1, atMs: nowMs - 1_000, expiresMs: nowMs + 100_000)
            ]
        }
        #expect(net.cores[receiver]!.evictionRefusal(e) == "rate")
        // An hour later the window has passed.
        var later = e
        later.atMs = nowMs + Eviction.rateWindowMs
        later.expiresMs = later.atMs + 100_000
        net.cores[receiver]!.anchorWallClock(ms: later.atMs, now: net.now)
        #expect(net.cores[receiver]!.evictionRefusal(later) == nil)
    }

    @Test func aQueenEvictsARevokedWorkerCitingTheRevocation() throws {
        // Admission on (the authority's key set): the test swarm is formed from known tables,
        // so no member needs a certificate before the revocation.
        let authority = TT.auth(99)
        var settings = Net.hiveSettings()
        settings.trust.authorityKey = authority.publicKey
        var net = Net.hive(9, settings: settings, authenticate: true)
        let formed = net.runUntilFormed()
        try #require(formed)
        let queen = try #require(net.queens().first { net.cores[$0]!.hive.roster!.count >= 2 })
        let worker = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.first { $0 != queen }!
        var rev = Revocation(id: Fixture.id(worker), atMs: 1)
        rev.signature = authority.sign(SignedClaim.revocation(rev))
        net.cores[queen]!.applyRevocation(rev)
        net.absorb(net.cores[queen]!.tick(now: net.now), from: queen)
        net.runDurably(for: 1_000)
        for i in net.cores.keys.sorted() where i != worker && i != queen {
            let e = try #require(
                net.cores[i]!.evictionsInForce.first { $0.id == Fixture.id(worker) }, "node \(i) holds no eviction")
            #expect(e.reason == "revoked" && e.revocation == rev && e.issuer == Fixture.id(queen))
            #expect(net.cores[i]!.isExcluded(Fixture.id(worker)))
        }
        // Without the authority's key the same record justifies nothing.
        let other = net.cores.keys.sorted().first { $0 != worker && $0 != queen }!
        var stranger = NodeCore(
            me: Fixture.member(50), settings: Net.hiveSettings(), seed: 5, now: net.now,
            knownMembers: Fixture.table([50, queen]))
        stranger.authenticate(with: TT.auth(50))
        _ = stranger.start(now: net.now)
        let record = try #require(
            net.cores[other]!.state.keyState(
                Eviction.keyPrefix + Fixture.id(worker).description + "/" + Fixture.id(queen).description)?.siblings
                .first)
        _ = stranger.receive(
            Fixture.packet(from: queen, .gossip, [.record(record)]), from: Fixture.address(queen), now: net.now)
        #expect(!stranger.isExcluded(Fixture.id(worker)))
        #expect(stranger.stats.state.recordsInvalid == 1)
    }

    /// A queen claiming a vast cell (or a cell configured larger than a record can carry a
    /// quorum of) cannot make herself, or her workers, impossible to evict.
    @Test func noQuorumExceedsWhatARecordCarries() {
        for count in [0, 1, 7, 63, 64, 200, 1 << 20] {
            let mates = Eviction.cellmates(count)
            #expect(mates <= Eviction.maximumCellmates)
            #expect(Eviction.requiredAccusers(cellmates: mates, anywhere: true) <= Eviction.maximumAccusations)
            #expect(Eviction.requiredAccusers(cellmates: mates) <= Eviction.maximumAccusations)
            #expect(Eviction.requiredAccusers(cellmates: mates) >= Eviction.minimumAccusers)
        }
        #expect(Eviction.requiredAccusers(cellmates: 7) == 4)
        #expect(Eviction.requiredAccusers(cellmates: 7, anywhere: true) == 8)
    }

    @Test func evictionsAndAccusationsRoundTripTheWire() throws {
        let sig = Signature(publicKey: [UInt8](repeating: 1, count: 32), bytes: [UInt8](repeating: 2, count: 64))
        let a = Accusation(
            accused: Fixture.id(3), accuser: Fixture.id(4), atMs: 1_700_000_000_000, penalty: 360, signature: sig)
        let e = Eviction(
            id: Fixture.id(3), issuer: Fixture.id(5), cell: CellID(77), term: 9, atMs: 1_700_000_000_500,
            expiresMs: 1_700_003_600_500,
            accusations: [
                a,
                Accusation(accused: Fixture.id(3), accuser: Fixture.id(6), atMs: 1, penalty: 1 << 40, signature: nil),
            ],
            revocation: Revocation(id: Fixture.id(3), atMs: 5, signature: [9, 9]), lifted: true, cellmates: 40,
            pledge: Pledge(boot: 1 << 33, atMs: 1_700_000_000_400, signature: sig),
            accusedClaim: QueenClaim(
                cell: CellID(9), term: 4, queen: Fixture.id(3), address: Fixture.address(3), serial: 7, size: 12,
                open: true, coordinate: Coordinate(), signature: sig),
            signature: sig)
        // A claim's coordinate travels as 32-bit floats: compare from its first decoding on.
        let once = try Eviction(decoding: e.encoded)
        #expect(try Eviction(decoding: once.encoded) == once)
        #expect(once.encoded == e.encoded && once.pledge == e.pledge && once.cellmates == e.cellmates)
        for cut in 0..<e.encoded.count {
            #expect(throws: WireError.self) { try Eviction(decoding: Array(e.encoded.prefix(cut))) }
        }
        #expect(throws: WireError.self) { try Eviction(decoding: e.encoded + [0]) }
        // A cell size no cell reaches is refused before anything counts with it.
        var huge = e
        huge.cellmates = Eviction.maximumCellmates + 1
        #expect(throws: WireError.self) { try Eviction(decoding: huge.encoded) }
        for m: Message in [
            .hive(.accuse(cell: CellID(77), accusation: a)),
            .hive(.lift(cell: CellID(77), evicted: Fixture.id(3), signature: sig)),
            .hive(.lift(cell: CellID(1), evicted: Fixture.id(3), signature: nil)),
            .hive(.pledge(cell: CellID(77), term: 9, queen: Fixture.id(5), boot: 1 << 33, atMs: 5, signature: sig)),
            .hive(.pledge(cell: CellID(1), term: 0, queen: Fixture.id(5), boot: 0, atMs: 0, signature: nil)),
        ] {
            let p = Packet(from: Fixture.id(1), message: m)
            let bytes = Wire.encode(p)
            #expect(try Wire.decode(bytes) == p)
            #expect(bytes.count == Wire.size(of: p))
            for cut in 0..<bytes.count {
                #expect(throws: WireError.self) { try Wire.decode(bytes.prefix(cut)) }
            }
        }
    }
}
