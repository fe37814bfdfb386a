import Testing

@testable import ColonyCore

/// What real agents and the simulator's host-fault scenarios showed (issue 17): a member that
/// cannot hear (gray failure, one-way or flip-flop loss) suspects everyone, and its verdicts
/// reached healthy members before the suspects' refutations did. A node that mostly goes
/// unanswered does not convict alone; a peer's table is no independent witness; the suspect
/// is told directly; and the hive's messages to the same few members carry news without
/// spending its transmissions.
@Suite(.tags(.node)) struct LoneVerdictTests {
    static func suspectTwo(from accuser: Int, at ms: Int64, _ b: inout NodeCore) -> [Effect] {
        b.receive(
            Fixture.packet(
                from: accuser, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(accuser))]),
            from: Fixture.address(accuser), now: Fixture.ms(ms))
    }

    @Test func aNodeWhoseProbesGoUnansweredDoesNotConvictAlone() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        for _ in 0..<10 { b.membership.probeRecord.note(answered: false) }
        #expect(!b.healthyEnoughToConvictAlone)
        _ = Self.suspectTwo(from: 0, at: 0, &b)
        // Past the maximum timeout (18 s at N = 5): still only a suspicion.
        _ = b.tick(now: Fixture.ms(18_100))
        #expect(b.member(Fixture.id(2))?.status == .suspect)
        #expect(b.stats.membership.loneVerdictsWithheld == 1)
        // Another member's own suspicion confirms it: the verdict follows at once.
        _ = Self.suspectTwo(from: 3, at: 18_200, &b)
        let verdict = b.tick(now: Fixture.ms(18_210))
        #expect(b.member(Fixture.id(2))?.status == .dead)
        #expect(Fixture.changes(verdict).contains { $0.id == Fixture.id(2) && $0.status == .dead })
    }

    @Test func aHealthyNodeStillConvictsAtTheMaximumTimeout() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        #expect(b.healthyEnoughToConvictAlone)
        _ = Self.suspectTwo(from: 0, at: 0, &b)
        _ = b.tick(now: Fixture.ms(18_100))
        #expect(b.member(Fixture.id(2))?.status == .dead)
        #expect(b.stats.membership.loneVerdictsWithheld == 0)
    }

    /// A high Lifeguard health multiplier alone (a node that probes slowly, so its probe
    /// record lags) is enough to withhold a lone verdict.
    @Test func aHighHealthMultiplierAlsoWithholdsIt() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        b.membership.awareness.apply(b.membership.awareness.max / 2)
        #expect(!b.healthyEnoughToConvictAlone)
    }

    /// Anti-entropy hands over a peer's table: its suspicion of a member may be the echo of
    /// ours. It starts a suspicion where there was none but confirms none.
    @Test func aPeersTableIsNoIndependentWitness() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        _ = Self.suspectTwo(from: 0, at: 0, &b)
        var inbound = Inbound.local
        b.mergeRemote([Fixture.member(2, incarnation: 1, status: .suspect)], from: Fixture.id(3), &inbound)
        #expect(b.membership.suspicions[Fixture.id(2)]?.confirmations == 0)
        // The same claim by gossip, from the member that suspected it, does confirm.
        _ = Self.suspectTwo(from: 3, at: 100, &b)
        #expect(b.membership.suspicions[Fixture.id(2)]?.confirmations == 1)
        // Where there was no suspicion, the table starts one.
        var c = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        var cInbound = Inbound.local
        c.mergeRemote([Fixture.member(2, incarnation: 1, status: .dead)], from: Fixture.id(3), &cInbound)
        #expect(c.member(Fixture.id(2))?.status == .suspect)
    }

    @Test func theMemberWhoseProbeFailedTellsTheSuspect() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        _ = b.tick(now: Fixture.ms(1))
        var inbound = Inbound.local
        b.applySuspect(id: Fixture.id(2), incarnation: 1, from: b.me.id, &inbound)
        let told = Fixture.sends(b.flush()).filter { $0.1.id == Fixture.id(2) }
        #expect(told.contains { $0.0.updates.contains(.suspect(id: Fixture.id(2), incarnation: 1, from: b.me.id)) })
        #expect(b.stats.membership.suspectsNotified == 1)
    }

    @Test func theHivesMessagesCarryNewsWithoutSpendingItsTransmissions() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        var inbound = Inbound.local
        b.applySuspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(0), &inbound)
        _ = b.flush()
        let subject = BroadcastSubject.member(Fixture.id(2))
        let before = b.queue.entries[subject]?.transmits
        let queen = Peer(id: Fixture.id(3), address: Fixture.address(3))
        for _ in 0..<20 { b.sendDatagram(.hive(.release(cell: CellID(7), boot: 1)), to: queen) }
        let carried = Fixture.sends(b.flush()).map(\.0)
        #expect(carried.count == 20)
        #expect(carried.allSatisfy { !$0.updates.isEmpty }, "the hive's messages carry the news")
        #expect(b.queue.entries[subject]?.transmits == before, "and spend none of its transmissions")
        b.sendDatagram(.gossip, to: queen)
        _ = b.flush()
        #expect(b.queue.entries[subject]?.transmits == (before ?? 0) + 1, "SWIM's gossip spends one")
        for message: Message in [.ping(seq: 1, target: Fixture.id(2)), .ack(seq: 1), .nack(seq: 1), .gossip] {
            #expect(message.spendsTransmissions)
        }
        for message: Message in [.hive(.release(cell: CellID(7), boot: 1)), .ihave([]), .graft([])] {
            #expect(!message.spendsTransmissions)
        }
    }
}
