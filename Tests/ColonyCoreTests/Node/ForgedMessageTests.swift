import Testing

@testable import ColonyCore

/// Messages anyone can forge (issue 18): each is refused and counted, and the old behaviour
/// each test names is what an attacker used.
@Suite(.tags(.node, .hostile)) struct ForgedMessageTests {
    /// Before: any ack carrying the probe's sequence number closed it, so a spoofer who guessed
    /// the (incrementing) number kept a dead member alive.
    @Test func aStrayAckDoesNotCloseAProbe() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(TT.firstPing(&a, from: .zero))
        let stranger = (1...4).map(Fixture.id).first { $0 != ping.target }!
        _ = a.receive(
            Packet(from: stranger, message: .ack(seq: ping.seq)), from: Fixture.address(Int(stranger.high)),
            now: ping.at + .milliseconds(5))
        #expect(a.stats.trust.strayAcksRefused == 1)
        advance(&a, from: ping.at, to: ping.at + .milliseconds(1_000))
        #expect(a.member(ping.target)?.status == .suspect, "the probe failed: its target never answered")
    }

    @Test func theTargetsOwnAckStillClosesIt() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(TT.firstPing(&a, from: .zero))
        _ = a.receive(
            Packet(from: ping.target, message: .ack(seq: ping.seq)), from: Fixture.address(Int(ping.target.high)),
            now: ping.at + .milliseconds(5))
        advance(&a, from: ping.at, to: ping.at + .milliseconds(1_000))
        #expect(a.member(ping.target)?.status == .alive && a.stats.trust.strayAcksRefused == 0)
    }

    /// Before: a sync request by datagram was answered, by stream, with as much state as asked:
    /// a spoofed 25-byte datagram made a node push 1.2 MB at its victim.
    @Test func anExchangeRequestByDatagramIsRefused() {
        var a = Fixture.core(0, knows: [0, 1])
        let request = Fixture.packet(from: 1, .sync(.stateRoot(exchange: 7, root: 12345)))
        let refused = a.receive(request, from: Fixture.address(1), via: .datagram, now: Fixture.ms(1))
        #expect(Fixture.sends(refused).isEmpty && a.stats.trust.syncOverDatagramRefused == 1)
        let answered = a.receive(request, from: Fixture.address(1), via: .stream, now: Fixture.ms(2))
        #expect(!Fixture.sends(answered).isEmpty, "over a stream it is answered")
    }

    /// Before: a query's answers went to the address the query named, so a query could make the
    /// swarm send bytes to any host and port.
    @Test func answersGoToTheAskingMemberNotToTheAddressItNames() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let victim = Address(host: "203.0.113.9", port: 53)
        let q = Query(
            id: Dot(origin: Fixture.id(1), counter: 1), lamport: 1, name: "q", payload: [], filter: QueryFilter(),
            asker: victim, timeoutMs: 5_000)
        let sends = Fixture.sends(a.respond(to: q, payload: [1], now: Fixture.ms(1)))
        #expect(sends.count == 1 && sends[0].1.address == Fixture.address(1), "to member 1's own address")
        var stranger = q
        stranger.id = Dot(origin: Fixture.id(99), counter: 1)
        #expect(Fixture.sends(a.respond(to: stranger, payload: [1], now: Fixture.ms(2))).isEmpty)
        #expect(a.stats.trust.queriesFromStrangersUnanswered == 1)
    }

    /// Before: an answer naming any member was taken, the first one winning.
    @Test func anAnswerCountsOnlyFromTheMemberItNames() throws {
        var a = Fixture.core(0, knows: [0, 1, 2])
        let (result, _) = a.query("q", payload: [], timeout: .seconds(5), now: Fixture.ms(1))
        let q = try result.get()
        let forged = QueryResponse(query: q.id, from: Fixture.id(2), name: "n2", payload: [6, 6, 6])
        let e1 = a.receive(
            Fixture.packet(from: 1, .queryResponse(forged)), from: Fixture.address(1), now: Fixture.ms(2))
        #expect(!Fixture.events(e1).contains { if case .queryResponse = $0 { true } else { false } })
        #expect(a.stats.trust.misattributedAnswersRefused == 1)
        let spoofed = a.receive(
            Fixture.packet(from: 2, .queryResponse(forged)), from: Fixture.address(1), now: Fixture.ms(3))
        #expect(Fixture.events(spoofed).isEmpty, "from another member's host")
        let real = a.receive(
            Fixture.packet(from: 2, .queryResponse(forged)), from: Fixture.address(2), now: Fixture.ms(4))
        #expect(Fixture.events(real).contains(.queryResponse(forged)))
    }

    /// Before: records and events from peers skipped every size limit a local write keeps.
    @Test func aPeersNewsKeepsTheLimitsALocalWriteKeeps() {
        var a = Fixture.core(0, knows: [0, 1])
        let limits = a.settings
        let big = [UInt8](repeating: 1, count: limits.maxValueBytes + 1)
        let news: [Update] = [
            .record(RS.record(String(repeating: "k", count: limits.maxKeyBytes + 1), [1], Fixture.id(1), 1)),
            .record(RS.record("k", big, Fixture.id(1), 2)),
            .record(RS.record("", [1], Fixture.id(1), 3)),
            .event(
                UserEvent(
                    id: Dot(origin: Fixture.id(1), counter: 1), lamport: 1, name: "e",
                    payload: Array(repeating: 1, count: limits.maxEventPayloadBytes + 1), coalesce: false)),
            .event(
                UserEvent(
                    id: Dot(origin: Fixture.id(1), counter: 2), lamport: 1, name: "", payload: [], coalesce: false)),
            .query(
                Query(
                    id: Dot(origin: Fixture.id(1), counter: 3), lamport: 1, name: "q",
                    payload: Array(repeating: 1, count: limits.maxEventPayloadBytes + 1), filter: QueryFilter(),
                    asker: Fixture.address(1), timeoutMs: 1_000)),
        ]
        for (i, u) in news.enumerated() {
            let e = a.receive(
                Fixture.packet(from: 1, .gossip, [u]), from: Fixture.address(1), now: Fixture.ms(Int64(1 + i)))
            #expect(Fixture.events(e).isEmpty, "\(i): nothing applied")
        }
        #expect(a.stats.state.recordsInvalid == news.count)
        #expect(a.state.recordCount == 0 && a.queue.isEmpty, "nothing held, nothing passed on")
        let fine = RS.record("k", [UInt8](repeating: 1, count: limits.maxValueBytes), Fixture.id(1), 9)
        _ = a.receive(Fixture.packet(from: 1, .gossip, [.record(fine)]), from: Fixture.address(1), now: Fixture.ms(50))
        #expect(a.state.recordCount == 1, "at the limit it is held")
    }

    /// Before: one suspicion of a member at an incarnation just under the ceiling made it
    /// refute past the ceiling, and every node refused its claims from then on.
    @Test func aSuspicionNearTheCeilingCannotKillAnIdentity() {
        var a = Fixture.core(0, knows: [0, 1, 2])
        let near = (1 << 62) - 1 as UInt64
        _ = a.receive(
            Fixture.packet(from: 1, .gossip, [.suspect(id: Fixture.id(0), incarnation: near, from: Fixture.id(1))]),
            from: Fixture.address(1), now: Fixture.ms(1))
        #expect(a.me.incarnation == 1, "no refutation past the ceiling")
        #expect(a.stats.membership.implausibleIncarnations == 1)
        _ = a.receive(
            Fixture.packet(from: 1, .gossip, [.dead(id: Fixture.id(2), incarnation: near, from: Fixture.id(1))]),
            from: Fixture.address(1), now: Fixture.ms(2))
        #expect(a.member(Fixture.id(2))?.status == .alive, "nor a death")
    }
}
