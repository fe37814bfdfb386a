import Testing

@testable import ColonyCore

// Tests of the hive's core transitions (docs/design.md §5): forming a cell, electing a queen with
// pre-vote and one vote per term, the lease and check-quorum, roster changes, and routing
// broadcasts through the queen with lazy announcements and graft.

/// Hive swarms on the test network: every node knows every other; after each step the
/// lease invariant is checked, and the queen-per-term invariant is read from the events.
extension Net {
    static func hiveSettings() -> Settings {
        var s = Settings.lan
        s.hive.enabled = true
        s.hive.minimumMembers = 3
        s.hive.minimumUptime = .zero
        s.hive.foundSpacing = .milliseconds(200)
        return s
    }

    static func hive(_ n: Int, settings: Settings = Net.hiveSettings(), authenticate: Bool = false) -> Net {
        let all = Array(0..<n)
        var net = Net([:])
        for i in all {
            var c = NodeCore(
                me: Fixture.member(i), settings: settings, seed: UInt64(i + 1), now: .zero,
                knownMembers: Fixture.table(all))
            if authenticate { c.authenticate(with: TT.auth(i)) }
            let effects = c.start(now: .zero)
            net.cores[i] = c
            net.absorb(effects, from: i)
        }
        net.check = { $0.leaseViolations() }
        return net
    }

    /// Deliver everything in flight.
    mutating func deliver() { settle(maxPackets: 100_000) }

    /// Advance in 10 ms steps (each checked).
    mutating func run(for ms: Int64) { run(until: now.advanced(byNanoseconds: ms * 1_000_000), step: 10) }

    /// No two queens of one cell hold the lease now.
    func leaseViolations() -> [String] {
        var holders: [CellID: Int] = [:]
        var out: [String] = []
        for i in cores.keys.sorted() {
            let c = cores[i]!
            guard c.hive.role == .queen, let cell = c.hive.cell, let until = c.hive.leaseUntil, until > now else {
                continue
            }
            if let other = holders[cell] {
                out.append("nodes \(other) and \(i) both hold the lease of \(cell) at \(now)")
            }
            holders[cell] = i
        }
        return out
    }

    /// Lease violations seen at any step, and any cell with two queens in one term.
    var violations: [String] {
        var queensByTerm: [CellID: [UInt64: Int]] = [:]
        var out = stepViolations
        for e in events {
            switch e.event {
            case .hive(.founded(let cell, let term)), .hive(.elected(let cell, let term)):
                if let other = queensByTerm[cell]?[term], other != e.node {
                    out.append("two queens of \(cell) in term \(term)")
                }
                queensByTerm[cell, default: [:]][term] = e.node
            default:
                break
            }
        }
        return out
    }

    func queens() -> [Int] { cores.keys.sorted().filter { cores[$0]!.hive.role == .queen } }

    /// Every core is in a cell whose queen holds the lease, and agrees with her on the term.
    func formed() -> Bool {
        for i in cores.keys {
            let c = cores[i]!
            guard let cell = c.hive.cell, let q = c.hive.queen,
                let qi = cores.keys.first(where: { Fixture.id($0) == q }),
                let queen = cores[qi], queen.hive.cell == cell, queen.hive.term == c.hive.term, queen.holdsLease
            else { return false }
        }
        return true
    }

    /// Formed and settled: one cell, or none below the low-water mark. Cells that few
    /// joined merge away after `mergeAfter`, and how many there are at first depends on
    /// whom the first claims reached; tests start from the settled hive.
    mutating func runUntilFormed(maxMs: Int64 = 20_000) -> Bool {
        var t: Int64 = 0
        while t < maxMs {
            run(for: 100)
            t += 100
            let q = queens()
            if formed()
                && (q.count == 1
                    || q.allSatisfy { cores[$0]!.hive.roster!.count >= cores[$0]!.settings.hive.lowWaterMark })
            {
                return true
            }
        }
        return false
    }

    mutating func crash(_ i: Int) { cores[i] = nil }
}

@Suite(.tags(.node)) struct HiveTests {
    @Test func aSwarmFormsCellsEachWithOneLeasedQueen() {
        var net = Net.hive(7)
        let formed = net.runUntilFormed()
        #expect(formed)
        #expect(net.violations.isEmpty, "\(net.violations)")
        let queens = net.queens()
        #expect(!queens.isEmpty)
        // Every voter of every cell is a member of it, and rosters agree with their queen's.
        for q in queens {
            let roster = net.cores[q]!.hive.roster!
            for v in roster.voters {
                let i = Int(v.id.high)
                #expect(net.cores[i]!.hive.cell == roster.cell)
                #expect(net.cores[i]!.hive.roster?.version == roster.version)
            }
        }
        #expect(queens.reduce(0) { $0 + net.cores[$1]!.hive.roster!.count } == 7)
    }

    @Test func smallSwarmsStayPureGossip() {
        var s = Net.hiveSettings()
        s.hive.minimumMembers = 8
        var net = Net.hive(5, settings: s)
        net.run(for: 5_000)
        #expect(net.queens().isEmpty)
        #expect(net.cores.values.allSatisfy { $0.hive.role == .homeless && !$0.isRouting })
    }

    @Test func aLostQueenIsReplacedInAHigherTermWithinAFewTimeouts() {
        var net = Net.hive(7)
        let formed = net.runUntilFormed()
        #expect(formed)
        let queen = net.queens().max { net.cores[$0]!.hive.roster!.count < net.cores[$1]!.hive.roster!.count }!
        let cell = net.cores[queen]!.hive.cell!
        let oldTerm = net.cores[queen]!.hive.term
        let workers = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.filter { $0 != queen }
        #expect(workers.count >= 2, "needs a cell of at least three")
        net.crash(queen)
        let crashAt = net.now
        var newQueen: Int?
        for _ in 0..<100 {
            net.run(for: 10)
            if let q = workers.first(where: { net.cores[$0]!.hive.role == .queen && net.cores[$0]!.hive.cell == cell })
            {
                newQueen = q
                break
            }
        }
        guard let q = newQueen else {
            Issue.record("no new queen within a second")
            return
        }
        #expect(
            net.now.nanoseconds(since: crashAt) <= 600_000_000,
            "elected only after \(net.now.nanoseconds(since: crashAt) / 1_000_000) ms")
        do {
            #expect(net.cores[q]!.hive.term > oldTerm)
            net.run(for: 200)
            #expect(net.cores[q]!.holdsLease)
            for w in workers where w != q { #expect(net.cores[w]!.hive.queen == Fixture.id(q)) }
        }
        #expect(net.violations.isEmpty, "\(net.violations)")
    }

    /// Cut off, a queen's lease runs out before anyone else is elected (the safety the lease
    /// gives), and she steps down within `quorumTimeout` (check-quorum). Since issue 17 the
    /// step-down may come after the new queen's election: the window is 600 ms, not 150, so
    /// that loss alone does not unseat queens; the isolated queen serves nothing meanwhile.
    @Test func aQueenCutOffFromHerCellLosesHerLeaseBeforeAnotherIsElectedAndStepsDown() {
        var net = Net.hive(7)
        let formed = net.runUntilFormed()
        #expect(formed)
        let queen = net.queens().max { net.cores[$0]!.hive.roster!.count < net.cores[$1]!.hive.roster!.count }!
        let cell = net.cores[queen]!.hive.cell!
        net.isolated = [queen]
        let cutAt = net.now
        var leaseGoneAt: Instant?
        var steppedDownAt: Instant?
        var electedAt: Instant?
        for _ in 0..<200 {
            net.run(for: 10)
            if leaseGoneAt == nil, !net.cores[queen]!.holdsLease { leaseGoneAt = net.now }
            if steppedDownAt == nil, net.cores[queen]!.hive.role != .queen { steppedDownAt = net.now }
            if electedAt == nil,
                net.cores.keys.contains(where: {
                    $0 != queen && net.cores[$0]!.hive.role == .queen && net.cores[$0]!.hive.cell == cell
                })
            {
                electedAt = net.now
            }
        }
        #expect(steppedDownAt != nil, "check-quorum: the isolated queen never stepped down")
        #expect(electedAt != nil)
        if let l = leaseGoneAt, let e = electedAt { #expect(l <= e) }
        let settings = net.cores[queen]!.settings.hive
        let window = settings.quorumTimeout + settings.lease + settings.heartbeatInterval * 2
        if let s = steppedDownAt { #expect(s - cutAt <= window, "stepped down \(s - cutAt) after the cut") }
        // The old queen's lease is gone; the lease invariant held at every step.
        #expect(!net.cores[queen]!.holdsLease)
        #expect(net.violations.isEmpty, "\(net.violations)")
        // Healed: the old queen follows the new one.
        net.isolated = []
        net.run(for: 500)
        let newQueen = net.cores.keys.first { net.cores[$0]!.hive.role == .queen && net.cores[$0]!.hive.cell == cell }
        #expect(newQueen != nil && newQueen != queen)
        #expect(net.cores[queen]!.hive.queen == newQueen.map(Fixture.id))
    }

    @Test func preVoteKeepsACutOffWorkerFromRaisingTheTerm() {
        var net = Net.hive(7)
        let formed = net.runUntilFormed()
        #expect(formed)
        let queen = net.queens().max { net.cores[$0]!.hive.roster!.count < net.cores[$1]!.hive.roster!.count }!
        let term = net.cores[queen]!.hive.term
        let worker = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.first { $0 != queen }!
        net.isolated = [worker]
        net.run(for: 1_000)
        // It asked for pre-votes and got none: its term did not move.
        #expect(net.cores[worker]!.hive.term == term)
        net.isolated = []
        net.run(for: 500)
        #expect(net.cores[queen]!.hive.role == .queen)
        #expect(net.cores[queen]!.hive.term == term)
        #expect(net.cores[worker]!.hive.queen == Fixture.id(queen))
        #expect(net.violations.isEmpty)
    }

    /// A worker in a cell of (0 queen, 1, 2), made by hand.
    static func handMadeCell() -> (NodeCore, CellID) {
        var c = NodeCore(
            me: Fixture.member(1), settings: Net.hiveSettings(), seed: 1, now: .zero,
            knownMembers: Fixture.table([0, 1, 2]))
        _ = c.start(now: .zero)
        let cell = CellID(42)
        let voters = [0, 1, 2].map { Voter(id: Fixture.id($0), boot: 1) }
        c.hive.enlisting = (cell, .zero)
        _ = c.receive(
            Fixture.packet(
                from: 0,
                .hive(
                    .heartbeat(
                        cell: cell, term: 3, round: 1, version: RosterVersion(term: 3, index: 5), roster: voters,
                        signature: nil))),
            from: Fixture.address(0), now: Fixture.ms(10))
        return (c, cell)
    }

    static func votes(_ effects: [Effect]) -> [(candidate: NodeID, term: UInt64, granted: Bool)] {
        Fixture.sends(effects).compactMap {
            if case .hive(.vote(_, let term, let candidate, let granted, _, _)) = $0.0.message {
                (candidate, term, granted)
            } else {
                nil
            }
        }
    }

    @Test func aVoterGrantsOneVotePerTermAndNoneWhileItHearsItsQueen() {
        var (c, cell) = Self.handMadeCell()
        #expect(c.hive.role == .worker)
        #expect(c.hive.queen == Fixture.id(0))
        let version = RosterVersion(term: 3, index: 5)
        // Heard the queen 10 ms ago: stickiness ignores the request.
        var e = c.receive(
            Fixture.packet(
                from: 2, .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: nil))),
            from: Fixture.address(2), now: Fixture.ms(20))
        #expect(Self.votes(e).map(\.granted) == [false])
        #expect(c.hive.term == 3)
        // After the window: granted once…
        e = c.receive(
            Fixture.packet(
                from: 2, .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: nil))),
            from: Fixture.address(2), now: Fixture.ms(400))
        #expect(Self.votes(e).map(\.granted) == [true])
        #expect(c.hive.term == 4)
        // …and the same term to another candidate is refused, the same candidate again granted.
        e = c.receive(
            Fixture.packet(
                from: 0, .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: nil))),
            from: Fixture.address(0), now: Fixture.ms(410))
        #expect(Self.votes(e).map(\.granted) == [false])
        e = c.receive(
            Fixture.packet(
                from: 2, .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: nil))),
            from: Fixture.address(2), now: Fixture.ms(420))
        #expect(Self.votes(e).map(\.granted) == [true])
        // A candidate with an older roster is refused (it may lack committed changes).
        e = c.receive(
            Fixture.packet(
                from: 0,
                .hive(
                    .requestVote(
                        cell: cell, term: 9, version: RosterVersion(term: 3, index: 4), boot: 1, signature: nil))),
            from: Fixture.address(0), now: Fixture.ms(900))
        #expect(Self.votes(e).map(\.granted) == [false])
        // A restarted process (another boot) is not the voter the roster names.
        e = c.receive(
            Fixture.packet(
                from: 2, .hive(.requestVote(cell: cell, term: 10, version: version, boot: 2, signature: nil))),
            from: Fixture.address(2), now: Fixture.ms(1400))
        #expect(Self.votes(e).isEmpty)
    }

    @Test func leavingAndRejoiningACellDoesNotGiveASecondVoteInATerm() {
        var (c, cell) = Self.handMadeCell()
        let version = RosterVersion(term: 3, index: 5)
        var e = c.receive(
            Fixture.packet(
                from: 2, .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: nil))),
            from: Fixture.address(2), now: Fixture.ms(400))
        #expect(Self.votes(e).map(\.granted) == [true])
        c.leaveCell(reason: "test", notify: false)
        #expect(c.hive.role == .homeless)
        // Re-admitted by the queen of term 3, it is asked again in term 4 by someone else.
        let voters = [0, 1, 2].map { Voter(id: Fixture.id($0), boot: 1) }
        c.hive.enlisting = (cell, Fixture.ms(500))
        _ = c.receive(
            Fixture.packet(
                from: 0,
                .hive(.heartbeat(cell: cell, term: 3, round: 9, version: version, roster: voters, signature: nil))),
            from: Fixture.address(0), now: Fixture.ms(500))
        #expect(c.hive.role == .worker)
        e = c.receive(
            Fixture.packet(
                from: 0, .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: nil))),
            from: Fixture.address(0), now: Fixture.ms(900))
        #expect(Self.votes(e).map(\.granted) == [false])
    }

    @Test func rosterChangesAreCommittedOneVoterAtATime() {
        var net = Net.hive(9)
        // The versions each queen's heartbeats carry (every version a majority acknowledges
        // went out in a heartbeat; on this network without delay several can follow one
        // another between two looks at the queens).
        var seen: [String: [RosterVersion]] = [:]
        net.filter = { from, _, p in
            if case .hive(.heartbeat(let cell, _, _, let version, _, _)) = p.message,
                seen["\(cell)/\(from)"]?.last != version
            {
                seen["\(cell)/\(from)", default: []].append(version)
            }
            return p
        }
        for _ in 0..<800 {
            net.run(for: 10)
            for q in net.queens() {
                let c = net.cores[q]!
                guard let r = c.hive.roster else { continue }
                // At most one change beyond what a majority acknowledged.
                #expect(r.version.index <= c.hive.reign.committed.index + 1)
            }
        }
        // Versions only grow, one index at a time within a term.
        for (_, versions) in seen {
            for (a, b) in zip(versions, versions.dropFirst()) {
                #expect(a < b)
                if a.term == b.term { #expect(b.index == a.index + 1) }
            }
        }
        #expect(net.formed())
    }

    @Test func aBroadcastGoesUpToTheQueenAndDownOnceToEveryone() {
        var net = Net.hive(9)
        let formed = net.runUntilFormed()
        #expect(formed)
        net.run(for: 1_000)
        let sender = net.cores.keys.sorted().first { net.cores[$0]!.hive.role == .worker }!
        var routed = 0
        var payloads = 0
        net.filter = { _, _, p in
            if case .route(_, let us) = p.message {
                routed += 1
                payloads += us.count
            }
            return p
        }
        let (result, effects) = net.cores[sender]!.durableEvent("hello", payload: [1, 2, 3], now: net.now)
        let event = try? result.get()
        net.absorb(effects, from: sender)
        net.deliver()
        net.run(for: 50)
        let holders = net.cores.values.filter { $0.recentEvents.contains { $0.id == event?.id } }.count
        #expect(holders == 9)
        // Exactly one payload per receiver: the tree (N − 1 = 8), nothing twice.
        #expect(payloads == 8)
        // Not in anyone's piggyback queue: gossip carries only its id.
        #expect(net.cores.values.allSatisfy { !$0.queue.contains(subject: .event(event!.id)) })
    }

    /// Two workers send 1,000 events a second each. A queen that forwarded each in its own
    /// datagram would send every worker 2,000 packets a second, five times what a member
    /// takes from one sender: her workers would refuse her and hold it against her. Paced,
    /// she sends each at most `relayPerSecond` packed lots a second (plus her heartbeats);
    /// nothing is refused and every event reaches everyone. Unpaced, the same load trips
    /// the limits (the check can fail).
    @Test(arguments: [true, false])
    func aQueenRelayingAFloodOfEventsStaysUnderHerWorkersRateLimits(paced: Bool) {
        var s = Net.hiveSettings()
        if !paced {
            s.hive.relayPerSecond = 1e9
            s.hive.relayBurst = 1e9
        }
        var net = Net.hive(9, settings: s)
        let formed = net.runUntilFormed()
        #expect(formed)
        net.run(for: 1_000)
        let queen = net.queens().first!
        let workers = net.cores.keys.sorted().filter { $0 != queen }
        let senders = Array(workers.prefix(2))
        var fromQueen: [Int: Int] = [:]
        net.filter = { from, to, p in
            if from == queen, case .route = p.message { fromQueen[to, default: 0] += 1 }
            return p
        }
        let before = net.cores.mapValues { $0.stats.trust.rateLimited }
        var sent = 0
        let start = net.now
        for k in 0..<1_000 {
            net.run(until: net.now.advanced(byNanoseconds: 1_000_000), step: 1)
            for i in senders {
                let (result, effects) = net.cores[i]!.durableEvent(
                    "flood", payload: Array("\(i)-\(k)".utf8), now: net.now)
                if (try? result.get()) != nil { sent += 1 }
                net.absorb(effects, from: i)
            }
            net.deliver()
        }
        net.run(for: 200)
        let seconds = Double(net.now.nanoseconds(since: start)) / 1e9
        let refused = net.cores.keys.reduce(0) { $0 + net.cores[$1]!.stats.trust.rateLimited - before[$1]! }
        let busiest = Double(fromQueen.values.max() ?? 0) / seconds
        if paced {
            #expect(sent == 2_000)
            #expect(refused == 0, "\(refused) packets refused by rate limits")
            #expect(
                busiest <= s.hive.relayPerSecond + s.hive.relayBurst, "\(busiest) relay packets a second to one worker")
            let delivered = net.events.filter { e in
                if case .userEvent(let ev, _) = e.event { return ev.name == "flood" }
                return false
            }
            #expect(delivered.count == 9 * 2_000, "every node delivers every event once")
            #expect(workers.allSatisfy { !net.cores[$0]!.isGraylisted(Fixture.id(queen)) })
        } else {
            #expect(busiest > 1_000, "unpaced: \(busiest) relay packets a second")
            #expect(refused > 0, "unpaced relays should trip the workers' rate limits")
        }
        #expect(net.violations.isEmpty, "\(net.violations)")
    }

    @Test func aBroadcastTheTreeLostIsPulledFromAnAnnouncer() {
        var net = Net.hive(9)
        let formed = net.runUntilFormed()
        #expect(formed)
        net.run(for: 1_000)
        let sender = net.cores.keys.sorted().first { net.cores[$0]!.hive.role == .worker }!
        let victim = net.cores.keys.sorted().first { $0 != sender && net.cores[$0]!.hive.role == .worker }!
        // Every routed push to the victim is lost; grafts and their answers go through.
        net.filter = { _, to, p in
            if to == victim, case .route(let scope, _) = p.message, scope != .leaf { return nil }
            return p
        }
        let (result, effects) = net.cores[sender]!.durableEvent("hello", payload: [7], now: net.now)
        let event = try? result.get()
        net.absorb(effects, from: sender)
        net.deliver()
        #expect(!net.cores[victim]!.recentEvents.contains { $0.id == event?.id })
        // Ids are announced each gossip round (200 ms); a graft follows after 100 ms.
        net.run(for: 3_000)
        #expect(net.cores[victim]!.recentEvents.contains { $0.id == event?.id })
        #expect(net.cores[victim]!.stats.router.graftsSent >= 1)
    }

    @Test func claimRefreshesTravelTheTreeNotGossip() {
        var net = Net.hive(9)
        let formed = net.runUntilFormed()
        #expect(formed)
        net.run(for: 1_000)
        let queens = net.queens()
        let before = Dictionary(
            uniqueKeysWithValues: queens.map { q in
                (net.cores[q]!.hive.cell!, net.cores[q]!.hive.cells[net.cores[q]!.hive.cell!]!.serial)
            })
        var gossiped = 0
        var routed = 0
        net.filter = { _, _, p in
            // Piggybacked on anything (gossip rounds, pings, acks): a refresh must not be.
            gossiped +=
                p.updates.filter { if case .queen(let c) = $0 { c.serial > (before[c.cell] ?? .max) } else { false } }
                .count
            if case .route(_, let us) = p.message {
                routed += us.filter { if case .queen = $0 { true } else { false } }.count
            }
            return p
        }
        // Past one claim refresh (10 s): every member holds each queen's newer claim, and
        // none of them came by gossip.
        net.run(for: 11_000)
        for (cell, serial) in before {
            let holders = net.cores.values.filter { ($0.hive.cells[cell]?.serial ?? 0) > serial }.count
            #expect(holders == 9, "cell \(cell): \(holders) of 9 hold the refreshed claim")
        }
        #expect(routed >= 8)
        #expect(gossiped == 0)
    }

    @Test func claimsHeardSeparatelyGoDownTogether() {
        var net = Net.hive(9)
        let formed = net.runUntilFormed()
        #expect(formed)
        net.run(for: 1_000)
        let q = net.queens().first!
        let cell = net.cores[q]!.hive.cell!
        let workers = net.cores.keys.sorted().filter { net.cores[$0]!.hive.cell == cell && $0 != q }
        #expect(workers.count >= 2)
        // Thirty claims of cells elsewhere, each reaching the queen in its own packet from a
        // worker in one instant (as during formation, when claims change by the dozen).
        let claims = (0..<30).map { k in
            QueenClaim(
                cell: CellID(UInt64(1_000 + k)), term: 1, queen: Fixture.id(100 + k), address: Fixture.address(100 + k),
                serial: 1,
                size: 10, open: true, coordinate: Coordinate())
        }
        var packetsTo: [Int: Int] = [:]
        net.filter = { from, to, p in
            if from == q, case .route(_, let us) = p.message,
                us.contains(where: { if case .queen(let c) = $0 { c.cell.raw >= 1_000 } else { false } })
            {
                packetsTo[to, default: 0] += 1
            }
            return p
        }
        for c in claims {
            let effects = net.cores[q]!.receive(
                Fixture.packet(from: workers[0], .route(scope: .swarm, updates: [.queen(c)])),
                from: Fixture.address(workers[0]),
                via: .datagram, now: net.now)
            net.absorb(effects, from: q)
        }
        net.deliver()
        net.run(for: 500)
        for w in workers {
            let held = claims.filter { net.cores[w]!.hive.cells[$0.cell] == $0 }.count
            #expect(held == 30, "worker \(w) holds \(held) of 30 claims")
            // Packed into as few datagrams as they fit in (three), not one each.
            #expect((packetsTo[w] ?? 0) <= 3, "worker \(w) got \(packetsTo[w] ?? 0) packets")
        }
    }

    @Test func withoutAQueenBroadcastsFallBackToGossip() {
        var net = Net.hive(9)
        let formed = net.runUntilFormed()
        #expect(formed)
        let sender = net.cores.keys.sorted().first { net.cores[$0]!.hive.role == .worker }!
        // The hive's own traffic is cut (the gossip riding on it still arrives): heartbeats
        // stop, queens step down, no one is elected.
        net.filter = { _, _, p in
            guard case .hive = p.message else { return p }
            return p.updates.isEmpty ? nil : Packet(from: p.from, message: .gossip, updates: p.updates)
        }
        net.run(for: 1_000)
        #expect(net.queens().isEmpty)
        #expect(net.cores.values.allSatisfy { !$0.isRouting })
        let (result, effects) = net.cores[sender]!.durableEvent("fallback", payload: [], now: net.now)
        let event = try? result.get()
        #expect(net.cores[sender]!.queue.contains(subject: .event(event!.id)))
        net.absorb(effects, from: sender)
        // Gossip, then event anti-entropy with the state sync (every 5 s), reach everyone.
        net.run(for: 12_000)
        #expect(net.cores.values.allSatisfy { $0.recentEvents.contains { $0.id == event?.id } })
    }

    @Test func signedSwarmsRefuseForgedHeartbeatsVotesAndClaims() {
        var net = Net.hive(7, authenticate: true)
        let formed = net.runUntilFormed()
        #expect(formed)
        #expect(net.violations.isEmpty)
        let queen = net.queens().first!
        let worker = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.first { $0 != queen }!
        let cell = net.cores[queen]!.hive.cell!
        let term = net.cores[queen]!.hive.term
        let version = net.cores[worker]!.hive.roster!.version
        let rejected = net.cores[worker]!.stats.trust.signaturesRejected
        // A claim on the cell by a member that is not its queen, with a stolen signature.
        var claim = net.cores[worker]!.hive.cells[cell]!
        claim.term += 1
        _ = net.cores[worker]!.receive(
            Fixture.packet(from: queen, .gossip, [.queen(claim)]), from: Fixture.address(queen), now: net.now)
        #expect(net.cores[worker]!.hive.cells[cell]!.term == term)
        // A forged heartbeat of a newer term "from" the queen, signed by someone else.
        let forged = Signature(
            publicKey: TestAuthenticator.publicKey(for: Fixture.id(queen)),
            bytes: TT.auth(worker).sign(
                SignedClaim.heartbeat(cell: cell, term: term + 5, round: 1, version: version, queen: Fixture.id(queen)))
        )
        _ = net.cores[worker]!.receive(
            Fixture.packet(
                from: queen,
                .hive(
                    .heartbeat(cell: cell, term: term + 5, round: 1, version: version, roster: nil, signature: forged))),
            from: Fixture.address(queen), now: net.now)
        #expect(net.cores[worker]!.hive.term == term)
        // An unsigned vote request.
        _ = net.cores[worker]!.receive(
            Fixture.packet(
                from: queen, .hive(.requestVote(cell: cell, term: term + 9, version: version, boot: 1, signature: nil))),
            from: Fixture.address(queen), now: net.now.advanced(byNanoseconds: 400_000_000))
        #expect(net.cores[worker]!.hive.term == term)
        // (Two invalid signatures graylist the sender, so its gossip is ignored from here on;
        // the hive messages themselves are still checked.)
        #expect(net.cores[worker]!.stats.trust.signaturesRejected == rejected + 3)
    }

    @Test func aFullCellBreedsANewCellThatElectsTheDesignate() {
        var s = Net.hiveSettings()
        s.hive.cellHighWater = 8
        var net = Net.hive(20, settings: s)
        var splitSeen = false
        for _ in 0..<100 {
            net.run(for: 100)
            if net.events.contains(where: { if case .hive(.splitting) = $0.event { return true } else { return false } }
            ) {
                splitSeen = true
            }
            if splitSeen && net.formed() { break }
        }
        #expect(splitSeen)
        #expect(net.formed())
        #expect(net.violations.isEmpty, "\(net.violations)")
        for e in net.events {
            guard case .hive(.splitting(let old, let newCell, let designate, let voters)) = e.event else { continue }
            // About half the cell goes, the designate among them.
            #expect(voters.count == 4)
            #expect(voters.contains(designate))
            // The new cell confirmed the designate by vote, in its first term.
            let elected = net.events.first {
                if case .hive(.elected(newCell, 1)) = $0.event { return true } else { return false }
            }
            #expect(elected.map { Fixture.id($0.node) } == designate)
            // Every one of them followed her; none is left on the old roster.
            for v in voters {
                let i = Int(v.high)
                #expect(
                    net.events.contains {
                        $0.node == i
                            && ($0.event == .hive(.accepted(cell: newCell, term: 1, queen: designate))
                                || $0.event == .hive(.elected(cell: newCell, term: 1)))
                    })
            }
            if let q = net.queens().first(where: { net.cores[$0]!.hive.cell == old }) {
                #expect(!net.cores[q]!.hive.roster!.voters.contains { voters.contains($0.id) })
            }
        }
        // No cell above its high-water mark.
        #expect(net.queens().allSatisfy { net.cores[$0]!.hive.roster!.count <= 8 })
    }

    @Test func aCellBelowItsLowWaterMarkMergesIntoALargerOne() {
        var s = Net.hiveSettings()
        s.hive.cellLowWater = 6
        s.hive.mergeAfter = .seconds(1)
        var net = Net.hive(10, settings: s)
        // Apart, 0–6 and 7–9 form cells; 7–9 (one or two) are below the mark.
        let side = { (i: Int) in i >= 7 }
        net.filter = { from, to, p in side(from) == side(to) ? p : nil }
        var t = 0
        while t < 100 && !net.formed() {
            net.run(for: 100)
            t += 1
        }
        #expect(net.formed())
        let smallCells = Set(net.queens().filter(side).map { net.cores[$0]!.hive.cell! })
        #expect(!smallCells.isEmpty)
        #expect(net.queens().filter(side).allSatisfy { net.cores[$0]!.hive.roster!.count < 6 })
        net.filter = nil
        t = 0
        while t < 200 && !(net.formed() && net.queens().count == 1) {
            net.run(for: 100)
            t += 1
        }
        // Cells below the mark dissolved into larger ones (equal sizes: into the higher id)
        // until one cell holds everyone.
        #expect(net.queens().count == 1)
        #expect(net.formed())
        #expect(net.queens().first.map { net.cores[$0]!.hive.roster!.count } == 10)
        let merged = net.events.compactMap { e -> CellID? in
            if case .hive(.steppedDown(let cell, _, let reason)) = e.event, reason.hasPrefix("merging") { return cell }
            return nil
        }
        #expect(!merged.isEmpty)
        #expect(!merged.contains(net.cores[net.queens().first!]!.hive.cell!))
        #expect(net.violations.isEmpty, "\(net.violations)")
    }

    @Test(arguments: [false, true])
    func aDeposedQueenIsReplacedAndSitsOut(fromAWorker: Bool) throws {
        var net = Net.hive(7, authenticate: true)
        let formed = net.runUntilFormed()
        #expect(formed)
        let queen = net.queens().max { net.cores[$0]!.hive.roster!.count < net.cores[$1]!.hive.roster!.count }!
        let cell = net.cores[queen]!.hive.cell!
        let oldTerm = net.cores[queen]!.hive.term
        try #require(net.cores[queen]!.hive.roster!.count >= 3)
        let worker = net.cores[queen]!.hive.roster!.voters.map { Int($0.id.high) }.first { $0 != queen }!
        let by = fromAWorker ? worker : queen
        let (result, effects) = net.cores[by]!.depose(now: net.now)
        net.absorb(effects, from: by)
        let d = try? result.get()
        #expect(d == Deposal(cell: cell, term: oldTerm, queen: Fixture.id(queen), local: !fromAWorker))
        net.deliver()
        #expect(net.cores[queen]!.hive.role != .queen)
        net.run(for: 1_500)
        // Another member rules the cell in a later term; the deposed one stood for nothing.
        let now = net.queens().first { net.cores[$0]!.hive.cell == cell }
        #expect(now != nil && now != queen)
        #expect(now.map { net.cores[$0]!.hive.term > oldTerm } == true)
        #expect(net.cores[queen]!.stats.hive.electionsStarted == 0)
        #expect(net.violations.isEmpty, "\(net.violations)")
        // A cell this node does not know, and a node in no cell naming none, are refused.
        #expect(throws: DeposeError.noQueen(CellID(12345))) {
            try net.cores[worker]!.depose(cell: CellID(12345), now: net.now).0.get()
        }
    }

    @Test func hiveMessagesRoundTripTheWire() throws {
        let cell = CellID(0xDEAD_BEEF_0000_0001)
        let v = RosterVersion(term: 7, index: 300)
        let sig = Signature(publicKey: [UInt8](repeating: 1, count: 32), bytes: [UInt8](repeating: 2, count: 64))
        let voters = (0..<64).map { Voter(id: Fixture.id($0), boot: UInt64($0) + 1) }
        let claim = QueenClaim(
            cell: cell, term: 9, queen: Fixture.id(3), address: Fixture.address(3), serial: 12, size: 64, open: false,
            coordinate: Coordinate(
                vec: [0.001, -0.002, 0, 0, 0, 0, 0, 0.5], error: 0.25, adjustment: 0.0001, height: 0.00002),
            signature: sig)
        let messages: [Message] = [
            .hive(.preVote(cell: cell, term: 8, version: v, boot: 3)),
            .hive(.preVoteReply(cell: cell, term: 8, granted: true)),
            .hive(.requestVote(cell: cell, term: 8, version: v, boot: 3, signature: sig)),
            .hive(.vote(cell: cell, term: 8, candidate: Fixture.id(4), granted: false, boot: 1, signature: nil)),
            .hive(.heartbeat(cell: cell, term: 8, round: 1 << 40, version: v, roster: voters, signature: sig)),
            .hive(.heartbeat(cell: cell, term: 8, round: 2, version: v, roster: nil, signature: nil)),
            .hive(.heartbeatAck(cell: cell, term: 8, round: 2, version: v, boot: 5, coordinate: nil)),
            // Values exact in 32 bits, so the round trip compares equal.
            .hive(
                .heartbeatAck(
                    cell: cell, term: 8, round: 21, version: v, boot: 5,
                    coordinate: Coordinate(
                        vec: [0.5, -0.25, 0, 0, 0, 0, 0, 0.125], error: 0.5, adjustment: 0.0625, height: 0.03125))),
            .hive(
                .breed(
                    cell: cell, term: 8, newCell: CellID(77), designate: Fixture.id(9),
                    voters: Array(voters.prefix(32)),
                    signature: sig)),
            .hive(.depose(cell: cell, term: 8, signature: sig)),
            .hive(.enlist(cell: cell, boot: 5)),
            .hive(.enlisted(cell: cell, term: 8, accepted: true)),
            .hive(.release(cell: cell, boot: 5)),
            .hive(.abdicate(cell: cell, term: 8, dissolve: true)),
            .route(
                scope: .swarm,
                updates: [
                    .event(
                        UserEvent(
                            id: Dot(origin: Fixture.id(1), counter: 3), lamport: 4, name: "e", payload: [1],
                            coalesce: false))
                ]),
            .route(scope: .leaf, updates: []),
            .ihave([
                .record(Dot(origin: Fixture.id(1), counter: 1)), .event(Dot(origin: Fixture.id(2), counter: 1 << 50)),
                .claim(cell: cell, term: 3, serial: 9), .claim(cell: CellID(1), term: .max, serial: .max),
            ]),
            .graft([.event(Dot(origin: Fixture.id(2), counter: 9))]),
        ]
        let bigBoot = Packet(
            from: Fixture.id(1),
            message: .hive(
                .heartbeat(
                    cell: cell, term: 8, round: 1, version: v, roster: [Voter(id: Fixture.id(1), boot: 1 << 62)],
                    signature: nil)))
        #expect(try Wire.decode(Wire.encode(bigBoot)) == bigBoot)
        for m in messages {
            let p = Packet(from: Fixture.id(1), message: m, updates: [.queen(claim)])
            let bytes = Wire.encode(p)
            var decoded = try Wire.decode(bytes)
            // Coordinates travel as 32-bit floats.
            if case .queen(var c) = decoded.updates.first {
                #expect(abs(c.coordinate.vec[7] - 0.5) < 1e-6)
                c.coordinate = claim.coordinate
                decoded.updates = [.queen(c)]
            }
            #expect(decoded == p)
            #expect(bytes.count == Wire.size(of: p))
            // Every truncation is a clean error.
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                #expect(throws: WireError.self) { try Wire.decode(bytes.prefix(cut)) }
            }
        }
        // The id budget of lazy push holds the largest id (a claim with the widest varints).
        let widest =
            Wire.size(of: Packet(from: Fixture.id(1), message: .ihave([.claim(cell: cell, term: .max, serial: .max)])))
            - Wire.size(of: Packet(from: Fixture.id(1), message: .ihave([])))
        #expect(widest <= NodeCore.broadcastIDBytes)
        // A full 64-voter heartbeat with signature still fits one sealed datagram.
        let hb = Packet(
            from: Fixture.id(1),
            message: .hive(
                .heartbeat(
                    cell: cell, term: 8, round: 1 << 20, version: v, roster: Array(voters.prefix(64)), signature: sig)))
        #expect(Wire.size(of: hb) <= Settings.lan.maxDatagramBytes - 37)
    }
}
