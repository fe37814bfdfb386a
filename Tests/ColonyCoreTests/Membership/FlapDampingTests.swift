import Testing

@testable import ColonyCore

/// Flap damping (issue 17, `NodeCore+Flapping`): real agents under a flip-flop fault (one
/// host's inbound path down 20 s, up 20 s) saw that host declared dead and readmitted in every
/// cycle by every observer, as Serf does. A member that has come back `flapThreshold` times
/// within `flapWindow` has its next comeback held, and is readmitted only when it answers a
/// direct ping after the hold.
@Suite(.tags(.node)) struct FlapDampingTests {
    /// Member 2 declared dead at `incarnation` at `ms`, by member 0's gossip.
    static func kill(_ b: inout NodeCore, incarnation: UInt64, at ms: Int64) {
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.dead(id: Fixture.id(2), incarnation: incarnation, from: Fixture.id(0))]),
            from: Fixture.address(0), now: Fixture.ms(ms))
    }

    /// Member 2 refutes with `incarnation`, in its own packet.
    static func comeBack(_ b: inout NodeCore, incarnation: UInt64, at ms: Int64) -> [Effect] {
        b.receive(
            Fixture.packet(from: 2, .gossip, [.alive(Fixture.member(2, incarnation: incarnation))]),
            from: Fixture.address(2), now: Fixture.ms(ms))
    }

    static func status(_ b: NodeCore) -> MemberStatus? { b.member(Fixture.id(2))?.status }

    /// Two deaths and comebacks within the window: both readmitted at once.
    static func flapTwice(_ b: inout NodeCore) {
        kill(&b, incarnation: 1, at: 1_000)
        _ = comeBack(&b, incarnation: 2, at: 2_000)
        kill(&b, incarnation: 2, at: 3_000)
        _ = comeBack(&b, incarnation: 3, at: 4_000)
        #expect(status(b) == .alive)
        kill(&b, incarnation: 3, at: 5_000)
        #expect(status(b) == .dead)
    }

    static func pings(to i: Int, in effects: [Effect]) -> [UInt32] {
        Fixture.sends(effects).compactMap { packet, peer, _ in
            if case .ping(let seq, let target) = packet.message, target == Fixture.id(i), peer.id == Fixture.id(i) {
                return seq
            }
            return nil
        }
    }

    @Test func aMemberThatComesBackOnceOrTwiceIsReadmittedAtOnce() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        Self.flapTwice(&b)
        #expect(b.stats.membership.revivalsHeld == 0)
    }

    @Test func theThirdComebackIsHeldAndConfirmedByADirectPing() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        Self.flapTwice(&b)
        _ = Self.comeBack(&b, incarnation: 4, at: 6_000)
        #expect(Self.status(b) == .dead, "held")
        #expect(b.stats.membership.revivalsHeld == 1)
        // Before the hold runs out, nothing is sent to it and it stays dead.
        #expect(Self.pings(to: 2, in: b.tick(now: Fixture.ms(35_000))).isEmpty)
        #expect(Self.status(b) == .dead)
        // At the end of the hold (30 s), a direct ping.
        let seqs = Self.pings(to: 2, in: b.tick(now: Fixture.ms(36_001)))
        #expect(seqs.count == 1)
        // An ack with that number from someone else readmits nobody.
        _ = b.receive(Fixture.packet(from: 3, .ack(seq: seqs[0])), from: Fixture.address(3), now: Fixture.ms(36_050))
        #expect(Self.status(b) == .dead)
        // Its own answer does.
        let back = b.receive(
            Fixture.packet(from: 2, .ack(seq: seqs[0])), from: Fixture.address(2), now: Fixture.ms(36_060))
        #expect(Fixture.changes(back).contains { $0.id == Fixture.id(2) && $0.status == .alive })
        #expect(Self.status(b) == .alive)
        #expect(b.member(Fixture.id(2))?.incarnation == 4)
        #expect(b.stats.membership.revivalsConfirmed == 1)
        #expect(b.membership.holds.isEmpty && b.membership.holdPings.isEmpty)
    }

    /// A held member that does not answer (its inbound path is down again) stays dead for
    /// another hold.
    @Test func aSilentHeldMemberStaysOut() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        Self.flapTwice(&b)
        _ = Self.comeBack(&b, incarnation: 4, at: 6_000)
        var pinged = 0
        var t: Int64 = 36_001
        while t < 66_000 {
            pinged += Self.pings(to: 2, in: b.tick(now: Fixture.ms(t))).count
            t += 100
        }
        #expect(pinged == NodeCore.flapConfirmPings)
        #expect(Self.status(b) == .dead)
        #expect(b.stats.membership.revivalHoldsExtended == 1)
        #expect(b.membership.holdPings.isEmpty, "an unanswered round leaves no numbers behind")
        // The next round, a hold after the last unanswered ping (37.5 s + 30 s), pings again.
        #expect(Self.pings(to: 2, in: b.tick(now: Fixture.ms(67_400))).isEmpty)
        #expect(Self.pings(to: 2, in: b.tick(now: Fixture.ms(67_600))).count == 1)
    }

    /// Comebacks older than the window are forgotten.
    @Test func comebacksOutsideTheWindowDoNotCount() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        Self.flapTwice(&b)
        _ = b.tick(now: Fixture.ms(400_000))
        _ = Self.comeBack(&b, incarnation: 4, at: 400_100)
        #expect(Self.status(b) == .alive)
        #expect(b.stats.membership.revivalsHeld == 0)
    }

    @Test func thresholdZeroTurnsItOff() {
        var s = Settings.lan
        s.flapThreshold = 0
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4], settings: s)
        Self.flapTwice(&b)
        _ = Self.comeBack(&b, incarnation: 4, at: 6_000)
        #expect(Self.status(b) == .alive)
        #expect(b.membership.revivals.isEmpty)
    }
}
