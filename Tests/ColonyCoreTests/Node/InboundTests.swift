import HashTreeCollections
import Testing

@testable import ColonyCore

/// The inbound context: what the gate established about a packet travels with the news it
/// carries, so a forgery is held against the member that delivered it, and against nobody
/// when the packet could not be attributed (a spoofed source, or a local input).
@Suite(.tags(.node, .hostile)) struct InboundTests {
    /// A's alive claim at a new incarnation, signed by C: a forgery.
    func forgedAlive() -> Update {
        var forged = Fixture.member(0, incarnation: 9)
        forged = TT.signedAlive(forged, by: TT.auth(2))
        return .alive(forged)
    }

    @Test func aForgeryIsHeldAgainstTheAttributedSenderOnly() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        var inbound = Inbound(sender: Fixture.id(3), ingress: .local)
        b.apply(forgedAlive(), &inbound)
        #expect(b.stats.trust.signaturesRejected == 1)
        #expect(b.trust.scores[Fixture.id(3)]?.forgeries == 1, "the member that delivered it is blamed")
        #expect(b.trust.scores[Fixture.id(0)] == nil && b.trust.scores[Fixture.id(2)] == nil)
        #expect(b.member(Fixture.id(0))?.incarnation == 1, "the forged claim changed nothing")
    }

    @Test func applyingAnUpdateSaysWhatItTaught() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        var inbound = Inbound(sender: Fixture.id(3), ingress: .local)
        let suspect = Update.suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(3))
        #expect(b.apply(suspect, &inbound) == .fresh, "news: 0 is now suspect here")
        #expect(b.apply(suspect, &inbound) == .redundant, "the same news again changes nothing")
        let forged = Update.suspect(id: Fixture.id(0), incarnation: maxCounter, from: Fixture.id(3))
        #expect(b.apply(forged, &inbound) == .invalid, "an incarnation beyond any real history")
        #expect(b.apply(forgedAlive(), &inbound) == .redundant, "a forgery teaches nothing")
    }

    @Test func aGraylistedMembersOwnRefutationIsStillHeardButNotItsOtherNews() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        b.penalize(Fixture.id(3), .invalidSignature)
        b.penalize(Fixture.id(3), .invalidSignature)
        #expect(b.isGraylisted(Fixture.id(3)))
        let refutation = Update.alive(TT.signedAlive(Fixture.member(3, incarnation: 5), by: TT.auth(3)))
        let rumour = Update.suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(3))
        _ = b.receive(TT.gossip(from: 3, [rumour, refutation]), from: Fixture.address(3), now: Fixture.ms(10))
        #expect(b.member(Fixture.id(3))?.incarnation == 5, "its own alive claim is applied")
        #expect(b.member(Fixture.id(0))?.status == .alive, "its news about others is not")
        #expect(b.stats.trust.graylistedUpdatesIgnored == 1)
    }

    @Test func aForgeryNobodyCanBeBlamedForCostsNobody() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        var unattributed = Inbound(sender: nil, ingress: .local)
        b.apply(forgedAlive(), &unattributed)
        #expect(b.stats.trust.signaturesRejected == 1)
        #expect(b.trust.scores.isEmpty, "no score moves when no sender is attributable")
    }

    @Test func blameFollowsTheAuthenticatedIdentityNotTheAddress() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        // Claims to come from 3, arrives from 3's own host, but the gate proved 2 sent it.
        _ = b.receive(
            TT.gossip(from: 3, [forgedAlive()]), from: Fixture.address(3), sender: .verified(Fixture.id(2)),
            now: Fixture.ms(10))
        #expect(b.stats.trust.unauthenticated == 1)
        #expect(b.stats.trust.signaturesRejected == 0)
        #expect(b.trust.scores.isEmpty)
        // Proved to come from 3, it is held against 3, even from another member's host.
        _ = b.receive(
            TT.gossip(from: 3, [forgedAlive()]), from: Fixture.address(2), sender: .verified(Fixture.id(3)),
            now: Fixture.ms(20))
        #expect(b.trust.scores[Fixture.id(3)]?.forgeries == 1)
        #expect(b.trust.scores[Fixture.id(2)] == nil)
        // Proved to come from a stranger (no member), it costs nobody: a fresh identity has
        // no standing to lose.
        let stranger = NodeID(high: 77, low: 77)
        var p = TT.gossip(from: 3, [forgedAlive()])
        p.from = stranger
        _ = b.receive(p, from: Fixture.address(3), sender: .verified(stranger), now: Fixture.ms(30))
        #expect(b.stats.trust.signaturesRejected == 2)
        #expect(b.trust.scores[stranger] == nil)
    }

    @Test func malformedPacketsBlameOnlyAProvenSender() {
        var b = TT.core(1, knows: [0, 1, 2, 3])
        // Unverified (a packet that did not open or verify): counted, nobody blamed, even when
        // it came from a member's address.
        _ = b.rejected(sender: .unverified, from: Fixture.address(2), now: Fixture.ms(10))
        #expect(b.stats.trust.packetsRejected == 1)
        #expect(b.trust.scores.isEmpty)
        // Verified but undecodable: its sender's own doing.
        _ = b.rejected(sender: .verified(Fixture.id(2)), from: Fixture.address(3), now: Fixture.ms(20))
        #expect(b.trust.scores[Fixture.id(2)]?.invalid == 1)
    }

    @Test func outsideTheTreeNewsFromAnyIngressIsGossiped() {
        var hive = Settings.lan
        hive.hive.enabled = true
        var b = NodeCore(
            me: Fixture.member(1), settings: hive, seed: 1, now: .zero, knownMembers: Fixture.table([0, 1, 2]))
        _ = b.start(now: .zero)
        let e = UserEvent(
            id: Dot(origin: Fixture.id(0), counter: 1), lamport: 1, name: "deploy", payload: [1], coalesce: false)
        // Not routing (no cell): news from anywhere goes to the piggyback queue.
        var tree = Inbound(sender: Fixture.id(0), ingress: .tree(.cell))
        b.applyEvent(e, replayed: false, &tree)
        #expect(tree.forward.isEmpty)
        #expect(b.queue.contains(subject: Update.event(e).subject))
    }
}
