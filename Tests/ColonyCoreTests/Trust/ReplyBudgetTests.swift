import Testing

@testable import ColonyCore

/// No amplification (issue 18): a datagram from a sender with no standing gets at most as
/// many bytes back as it sent, so a spoofed source cannot aim a node at a victim. Members
/// keep their full answers.
@Suite(.tags(.hostile)) struct ReplyBudgetTests {
    static let stranger = 50

    /// Node 1, knowing 0–3, with gossip pending (twenty members just heard of from 3).
    static func busyCore(authenticating: Bool) -> NodeCore {
        var b = authenticating ? TT.core(1, knows: [0, 1, 2, 3]) : Fixture.core(1, knows: [0, 1, 2, 3])
        let news: [Update] = (10..<30).map { i in
            authenticating ? .alive(TT.signedAlive(Fixture.member(i), by: TT.auth(i))) : .alive(Fixture.member(i))
        }
        _ = b.receive(TT.gossip(from: 3, news), from: Fixture.address(3), now: Fixture.ms(10))
        #expect(!b.queue.isEmpty, "news to piggyback on answers")
        return b
    }

    /// Datagram bytes (encoded) the effects send.
    static func datagramBytes(_ effects: [Effect]) -> Int {
        Fixture.sends(effects).filter { $0.2 == .datagram }.reduce(0) { $0 + Wire.size(of: $1.0) }
    }

    @Test(arguments: [false, true]) func aStrangersPingIsAnsweredWithNoMoreBytesThanItSent(authenticating: Bool) {
        var b = Self.busyCore(authenticating: authenticating)
        let ping = Fixture.packet(from: Self.stranger, .ping(seq: 7, target: Fixture.id(1)))
        let effects = b.receive(ping, from: Fixture.address(Self.stranger), now: Fixture.ms(20))
        let acks = Fixture.sends(effects).filter { if case .ack(7, _) = $0.0.message { true } else { false } }
        #expect(acks.count == 1, "the probe is still answered")
        #expect(Self.datagramBytes(effects) <= Wire.size(of: ping))
        #expect(acks.first?.0.updates.isEmpty == true, "no gossip piggybacked for a stranger")
        #expect(b.stats.trust.repliesTrimmed >= 1)

        // A member's identical ping gets its gossip: the bound is for strangers only.
        let memberPing = Fixture.packet(from: 2, .ping(seq: 8, target: Fixture.id(1)))
        let answer = b.receive(memberPing, from: Fixture.address(2), now: Fixture.ms(30))
        #expect(Self.datagramBytes(answer) > Wire.size(of: memberPing))
    }

    @Test func aMembersIdFromAnotherHostIsBoundedWithoutIdentities() {
        var b = Self.busyCore(authenticating: false)
        // Claims to be 2 but comes from the stranger's host: 2's standing does not lend it
        // the right to a large answer (the source may be a victim's spoofed address).
        let ping = Fixture.packet(from: 2, .ping(seq: 9, target: Fixture.id(1)))
        let effects = b.receive(ping, from: Fixture.address(Self.stranger), now: Fixture.ms(20))
        #expect(Self.datagramBytes(effects) <= Wire.size(of: ping))
    }

    @Test(arguments: [false, true]) func aStrangersGraftDrawsNothingLargerThanItself(authenticating: Bool) {
        var b = Self.busyCore(authenticating: authenticating)
        var ids: [BroadcastID] = []
        for k in 1...5 {
            let dot = Dot(origin: Fixture.id(3), counter: UInt64(k))
            let e = UserEvent(
                id: dot, lamport: UInt64(k), name: "deploy", payload: Array(repeating: 7, count: 600), coalesce: false)
            b.router.remember(.event(dot), .event(e), capacity: 64)
            ids.append(.event(dot))
        }
        let graft = Fixture.packet(from: Self.stranger, .graft(ids))
        let effects = b.receive(graft, from: Fixture.address(Self.stranger), now: Fixture.ms(20))
        #expect(Self.datagramBytes(effects) <= Wire.size(of: graft))
        #expect(b.stats.trust.repliesWithheld >= 1)

        // A member's graft for the same broadcasts is served.
        let memberGraft = Fixture.packet(from: 2, .graft(ids))
        let served = b.receive(memberGraft, from: Fixture.address(2), now: Fixture.ms(30))
        #expect(Self.datagramBytes(served) > 5 * 600)
    }
}

extension ReplyBudgetTests {
    /// A member's authenticated ping replayed from another host (a captured packet, its
    /// source set to a victim's address) is answered within its own size; from the member's
    /// own host it gets the full answer.
    @Test func aMembersPacketReplayedFromElsewhereDrawsNoMoreThanItself() {
        var b = Self.busyCore(authenticating: true)
        let ping = Fixture.packet(from: 2, .ping(seq: 11, target: Fixture.id(1)))
        let replayed = b.receive(ping, from: Fixture.address(Self.stranger), now: Fixture.ms(20))
        #expect(Self.datagramBytes(replayed) <= Wire.size(of: ping))
        #expect(TT.acks(replayed, to: 2) == 1, "still answered")
        let genuine = b.receive(ping, from: Fixture.address(2), now: Fixture.ms(30))
        #expect(Self.datagramBytes(genuine) > Wire.size(of: ping))
    }
}
