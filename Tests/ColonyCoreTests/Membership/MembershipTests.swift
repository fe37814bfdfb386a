import HashTreeCollections
import Testing

@testable import ColonyCore

/// Step a core's clock in small increments (as a driver's timers would), returning all effects.
@discardableResult
func advance(_ core: inout NodeCore, from: Instant, to end: Instant, stepMs: Int64 = 10) -> [Effect] {
    var all: [Effect] = []
    var t = from
    while t < end {
        t = min(end, t.advanced(byNanoseconds: stepMs * 1_000_000))
        all += core.tick(now: t)
    }
    return all
}

@Suite(.tags(.node)) struct SuspicionAndRefutationTests {
    @Test func suspectedNodeRefutesWithHigherIncarnation() {
        var a = Fixture.core(0, knows: [0, 1, 2])
        let effects = a.receive(
            Fixture.packet(from: 1, .gossip, [.suspect(id: Fixture.id(0), incarnation: 1, from: Fixture.id(1))]),
            from: Fixture.address(1),
            now: Fixture.ms(10))
        #expect(a.me.incarnation == 2)
        #expect(effects.contains(.persist(.incarnation(2))))
        #expect(a.stats.membership.refutations == 1)
        #expect(a.awareness.score == 1, "refuting raises the local health multiplier")
        #expect(a.queue.entries[.member(Fixture.id(0))]?.update == .alive(a.me))
    }

    @Test func deadClaimAboutSelfIsRefuted() {
        var a = Fixture.core(0, knows: [0, 1, 2])
        _ = a.receive(
            Fixture.packet(from: 1, .gossip, [.dead(id: Fixture.id(0), incarnation: 4, from: Fixture.id(1))]),
            from: Fixture.address(1),
            now: Fixture.ms(10))
        #expect(a.me.incarnation == 5)
        #expect(a.me.status == .alive)
    }

    @Test func unrefutedSuspicionBecomesDeadAfterTimeout() {
        // N = 5: k = α − 2 = 1 expected confirmation; min = α·max(1, log10 5)·T = 3 s, max = 18 s.
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        let e = b.receive(
            Fixture.packet(from: 0, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(0))]),
            from: Fixture.address(0),
            now: Fixture.ms(0))
        #expect(Fixture.changes(e).map(\.status) == [.suspect])
        // (Single jumps, so this node's own probes — unanswered here — cannot confirm.)
        _ = b.tick(now: Fixture.ms(17_900))
        #expect(b.member(Fixture.id(2))?.status == .suspect, "no confirmation: waits the maximum timeout")
        let last = b.tick(now: Fixture.ms(18_100))
        #expect(b.member(Fixture.id(2))?.status == .dead)
        #expect(Fixture.changes(last).contains { $0.id == Fixture.id(2) && $0.status == .dead })
    }

    @Test func independentConfirmationShrinksTimeoutToMinimum() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(0))]),
            from: Fixture.address(0),
            now: Fixture.ms(0))
        // The same accuser again counts for nothing; another member does.
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(0))]),
            from: Fixture.address(0),
            now: Fixture.ms(100))
        #expect(b.membership.suspicions[Fixture.id(2)]?.confirmations == 0)
        _ = b.receive(
            Fixture.packet(from: 3, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(3))]),
            from: Fixture.address(3),
            now: Fixture.ms(200))
        #expect(b.membership.suspicions[Fixture.id(2)]?.confirmations == 1)
        advance(&b, from: Fixture.ms(200), to: Fixture.ms(2_900))
        #expect(b.member(Fixture.id(2))?.status == .suspect)
        advance(&b, from: Fixture.ms(2_900), to: Fixture.ms(3_100))
        #expect(b.member(Fixture.id(2))?.status == .dead, "confirmed suspicion times out at the minimum, 3 s")
    }

    @Test func refutationCancelsSuspicion() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3, 4])
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(0))]),
            from: Fixture.address(0),
            now: Fixture.ms(0))
        _ = b.receive(
            Fixture.packet(from: 2, .gossip, [.alive(Fixture.member(2, incarnation: 2))]), from: Fixture.address(2),
            now: Fixture.ms(500))
        #expect(b.member(Fixture.id(2))?.status == .alive)
        advance(&b, from: Fixture.ms(500), to: Fixture.ms(20_000))
        #expect(b.member(Fixture.id(2))?.status.isLive == true)
        #expect(b.member(Fixture.id(2))?.incarnation ?? 0 >= 2)
    }

    @Test func staleIncarnationsChangeNothing() {
        var c = Fixture.core(0, knows: [0, 1])
        _ = c.receive(
            Fixture.packet(from: 1, .gossip, [.alive(Fixture.member(1, incarnation: 5))]), from: Fixture.address(1),
            now: Fixture.ms(1))
        #expect(c.member(Fixture.id(1))?.incarnation == 5)
        let before = c.stats.dissemination.redundantUpdates
        let e = c.receive(
            Fixture.packet(
                from: 1, .gossip,
                [
                    .suspect(id: Fixture.id(1), incarnation: 3, from: Fixture.id(0)),
                    .alive(Fixture.member(1, incarnation: 4)),
                    .dead(id: Fixture.id(1), incarnation: 4, from: Fixture.id(0)),
                    .alive(Fixture.member(1, incarnation: 5)),
                ]), from: Fixture.address(1), now: Fixture.ms(2))
        #expect(Fixture.changes(e).isEmpty)
        #expect(c.member(Fixture.id(1)) == Fixture.member(1, incarnation: 5))
        #expect(c.stats.dissemination.redundantUpdates == before + 4, "each duplicate or stale update is counted")
    }

    @Test func remoteDeadVerdictInStateExchangeBecomesSuspicion() {
        var c = Fixture.core(0, knows: [0, 1, 2])
        var inbound = Inbound(sender: Fixture.id(1), ingress: .local)
        c.mergeRemote([Fixture.member(2, incarnation: 1, status: .dead)], from: Fixture.id(1), &inbound)
        #expect(c.member(Fixture.id(2))?.status == .suspect, "memberlist mergeState: dead → suspect, so it can refute")
    }

    @Test func unsupportedProtocolVersionIsRefused() {
        var c = Fixture.core(0, knows: [0])
        var old = Fixture.member(7)
        old.protocolVersion = 0
        _ = c.receive(Fixture.packet(from: 7, .gossip, [.alive(old)]), from: Fixture.address(7), now: Fixture.ms(1))
        #expect(c.member(Fixture.id(7)) == nil)
        #expect(c.stats.membership.unsupportedVersion == 1)
    }

    @Test func lateTimerDefersVerdictUntilInputIsRead() {
        // N = 3: one confirmation expected and none comes, so the timeout is the maximum, 18 s.
        var b = Fixture.core(1, knows: [0, 1, 2])
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.suspect(id: Fixture.id(2), incarnation: 1, from: Fixture.id(0))]),
            from: Fixture.address(0),
            now: Fixture.ms(0))
        // The node stalls and next runs at 20 s: its overdue timer must not kill node 2 yet.
        _ = b.tick(now: Fixture.ms(20_000))
        #expect(b.member(Fixture.id(2))?.status == .suspect)
        #expect(b.stats.membership.lateVerdictsDeferred >= 1)
        // The refutation that waited in the socket is read: node 2 stays alive.
        _ = b.receive(
            Fixture.packet(from: 2, .ack(seq: 999), [.alive(Fixture.member(2, incarnation: 2))]),
            from: Fixture.address(2),
            now: Fixture.ms(20_001))
        advance(&b, from: Fixture.ms(20_001), to: Fixture.ms(22_000))
        #expect(b.member(Fixture.id(2))?.status.isLive == true)
    }
}

@Suite(.tags(.node)) struct LeaveAndTombstoneTests {
    @Test func gracefulLeaveSpreadsThenCompletes() {
        var a = Fixture.core(0, knows: [0, 1, 2, 3])
        _ = a.leave(now: Fixture.ms(0))
        #expect(a.phase == .leaving)
        #expect(a.queue.entries[.member(Fixture.id(0))]?.update == .left(id: Fixture.id(0), incarnation: 1))
        let effects = advance(&a, from: Fixture.ms(0), to: Fixture.ms(6_000))
        #expect(Fixture.events(effects).contains(.leaveCompleted))
        #expect(a.phase == .left)
        let leftSent = Fixture.sends(effects).contains {
            $0.0.updates.contains(.left(id: Fixture.id(0), incarnation: 1))
        }
        #expect(leftSent)
        #expect(a.tick(now: Fixture.ms(60_000)).isEmpty, "a node that left does nothing more")
    }

    @Test func leavingWhenEveryoneElseHasLeftCompletesAtOnce() {
        var a = Fixture.core(0, knows: [0, 1, 2])
        _ = a.receive(
            Fixture.packet(from: 1, .gossip, [.left(id: Fixture.id(1), incarnation: 1)]), from: Fixture.address(1),
            now: Fixture.ms(1))
        _ = a.leave(now: Fixture.ms(2))
        #expect(a.phase == .leaving, "node 2 is still live: tell it")
        // The last live peer leaves too while we are leaving: nobody is left to tell.
        _ = a.receive(
            Fixture.packet(from: 2, .gossip, [.left(id: Fixture.id(2), incarnation: 1)]), from: Fixture.address(2),
            now: Fixture.ms(3))
        let effects = advance(&a, from: Fixture.ms(3), to: Fixture.ms(400))
        #expect(
            Fixture.events(effects).contains(.leaveCompleted), "no live peer to tell: no need to wait out the timeout")
        var b = Fixture.core(0, knows: [0, 1])
        _ = b.receive(
            Fixture.packet(from: 1, .gossip, [.left(id: Fixture.id(1), incarnation: 1)]), from: Fixture.address(1),
            now: Fixture.ms(1))
        #expect(
            Fixture.events(b.leave(now: Fixture.ms(2))).contains(.leaveCompleted), "alone: the leave completes at once")
    }

    @Test func leftIsATombstoneThatOnlyAHigherIncarnationRevives() {
        var b = Fixture.core(1, knows: [0, 1, 2, 3])
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.left(id: Fixture.id(0), incarnation: 1)]), from: Fixture.address(0),
            now: Fixture.ms(1))
        #expect(b.member(Fixture.id(0))?.status == .left)
        _ = b.receive(
            Fixture.packet(from: 2, .gossip, [.alive(Fixture.member(0, incarnation: 1))]), from: Fixture.address(2),
            now: Fixture.ms(2))
        #expect(b.member(Fixture.id(0))?.status == .left, "stale alive cannot resurrect a tombstone")
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.alive(Fixture.member(0, incarnation: 2))]), from: Fixture.address(0),
            now: Fixture.ms(3))
        #expect(b.member(Fixture.id(0))?.status == .alive, "a restarted node rejoins with a higher incarnation")
    }

    @Test func tombstonesAreReclaimedAfterTheirTimeout() {
        var s = Settings.lan
        s.tombstoneTimeout = .seconds(10)
        var b = Fixture.core(1, knows: [0, 1, 2, 3], settings: s)
        _ = b.receive(
            Fixture.packet(from: 0, .gossip, [.left(id: Fixture.id(0), incarnation: 1)]), from: Fixture.address(0),
            now: Fixture.ms(1))
        let effects = advance(&b, from: Fixture.ms(1), to: Fixture.ms(16_000), stepMs: 100)
        #expect(Fixture.events(effects).contains(.memberReclaimed(Fixture.id(0))))
        #expect(b.member(Fixture.id(0)) == nil)
    }
}

@Suite(.tags(.node)) struct ProbingAndLifeguardTests {
    /// Runs a core, answering nothing, until it sends a ping; returns the ping and time.
    func firstPing(_ core: inout NodeCore, from start: Instant) -> (
        seq: UInt32, target: NodeID, updates: [Update], at: Instant
    )? {
        var t = start
        for _ in 0..<1000 {
            t = t.advanced(byNanoseconds: 10_000_000)
            for (p, _, via) in Fixture.sends(core.tick(now: t)) where via == .datagram {
                if case .ping(let seq, let target) = p.message { return (seq, target, p.updates, t) }
            }
        }
        return nil
    }

    @Test func failedProbeRaisesHealthMultiplierAndSuspectsAndAckLowersIt() throws {
        var s = Settings.lan
        s.indirectChecks = 0
        var a = Fixture.core(0, knows: [0, 1], settings: s)
        let ping = try #require(firstPing(&a, from: .zero))
        #expect(ping.target == Fixture.id(1))
        // No ack by the end of the period: suspect, and LHM + 1 (no helpers to nack). The
        // same tick starts the next probe, whose ping carries the suspicion (buddy system).
        let effects = advance(&a, from: ping.at, to: ping.at + .milliseconds(1_000))
        #expect(a.member(Fixture.id(1))?.status == .suspect)
        #expect(a.awareness.score == 1)
        let next = try #require(
            Fixture.sends(effects).first {
                $0.2 == .datagram && { if case .ping = $0 { true } else { false } }($0.0.message)
            }
        )
        guard case .ping(let seq, let target) = next.0.message else { return }
        #expect(target == Fixture.id(1))
        #expect(next.0.updates.first == .suspect(id: Fixture.id(1), incarnation: 1, from: Fixture.id(0)))
        // A direct ack lowers the multiplier again.
        _ = a.receive(
            Fixture.packet(from: 1, .ack(seq: seq)), from: Fixture.address(1), now: ping.at + .milliseconds(1_001))
        #expect(a.awareness.score == 0)
    }

    @Test func helpersAreAskedAndMissingNacksCountAgainstUs() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(firstPing(&a, from: .zero))
        // At the probe timeout: ping-req to k = 3 helpers, and a stream fallback ping.
        let effects = advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        let reqs = Fixture.sends(effects).filter { if case .pingReq = $0.0.message { true } else { false } }
        #expect(reqs.count == 3)
        #expect(!reqs.contains { $0.1.id == ping.target })
        #expect(
            Fixture.sends(effects).contains {
                $0.2 == .stream && $0.0.message == .ping(seq: ping.seq, target: ping.target)
            })
        // Two of three helpers nack; one says nothing → LHM + 1.
        for r in reqs.prefix(2) {
            _ = a.receive(
                Packet(from: r.1.id!, message: .nack(seq: ping.seq)), from: r.1.address,
                now: ping.at + .milliseconds(920))
        }
        advance(&a, from: ping.at + .milliseconds(920), to: ping.at + .milliseconds(1_000))
        #expect(a.awareness.score == 1)
        #expect(a.member(ping.target)?.status == .suspect)
    }

    @Test func refusedFallbackStreamDeclaresTheProbedMemberDead() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(firstPing(&a, from: .zero))
        // Refusals count only for a member that missed its ping (before the fallback: ignored).
        _ = a.streamFailed(to: Fixture.address(Int(ping.target.high)), refused: true, now: ping.at + .milliseconds(100))
        #expect(a.member(ping.target)?.status == .alive)
        advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        // A timeout is not a refusal (a partition or a paused process looks like this).
        _ = a.streamFailed(
            to: Fixture.address(Int(ping.target.high)), refused: false, now: ping.at + .milliseconds(520))
        #expect(a.member(ping.target)?.status == .alive)
        // Refused: nothing listens on its port any more.
        let e = a.streamFailed(
            to: Fixture.address(Int(ping.target.high)), refused: true, now: ping.at + .milliseconds(530))
        #expect(a.member(ping.target)?.status == .dead)
        #expect(Fixture.changes(e).contains { $0.id == ping.target && $0.status == .dead })
        #expect(a.stats.membership.refusedProbes == 1)
        // Another address refusing changes nothing.
        var b = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let p2 = try #require(firstPing(&b, from: .zero))
        advance(&b, from: p2.at, to: p2.at + .milliseconds(510))
        _ = b.streamFailed(to: Fixture.address(99), refused: true, now: p2.at + .milliseconds(530))
        #expect(b.member(p2.target)?.status == .alive)
    }

    @Test func indirectAckAvoidsSuspicionWithoutLoweringHealth() throws {
        var a = Fixture.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(firstPing(&a, from: .zero))
        let effects = advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        let helper = try #require(
            Fixture.sends(effects).first { if case .pingReq = $0.0.message { true } else { false } })
        _ = a.receive(
            Packet(from: helper.1.id!, message: .ack(seq: ping.seq)), from: helper.1.address,
            now: ping.at + .milliseconds(600))
        advance(&a, from: ping.at + .milliseconds(600), to: ping.at + .milliseconds(1_000))
        #expect(a.member(ping.target)?.status == .alive)
        #expect(a.awareness.score == 0)
    }

    @Test func helperForwardsAckOrNacks() {
        var h = Fixture.core(2, knows: [0, 1, 2])
        let e = h.receive(
            Fixture.packet(from: 0, .pingReq(seq: 77, target: Fixture.id(1), targetAddress: Fixture.address(1))),
            from: Fixture.address(0),
            now: Fixture.ms(0))
        let ping = Fixture.sends(e).compactMap {
            if case .ping(let s, let t) = $0.0.message, t == Fixture.id(1) { s } else { nil }
        }
        .first
        #expect(ping != nil)
        let fwd = h.receive(Fixture.packet(from: 1, .ack(seq: ping!)), from: Fixture.address(1), now: Fixture.ms(5))
        #expect(Fixture.sends(fwd).contains { $0.0.message == .ack(seq: 77) && $0.1.id == Fixture.id(0) })
        // A second request that the target never answers gets a nack at 80% of the timeout.
        _ = h.receive(
            Fixture.packet(from: 0, .pingReq(seq: 78, target: Fixture.id(1), targetAddress: Fixture.address(1))),
            from: Fixture.address(0),
            now: Fixture.ms(10))
        let later = advance(&h, from: Fixture.ms(10), to: Fixture.ms(420))
        #expect(Fixture.sends(later).contains { $0.0.message == .nack(seq: 78) })
    }

    @Test func pingMeantForAnotherNodeIsIgnored() {
        var a = Fixture.core(0, knows: [0, 1])
        let e = a.receive(
            Fixture.packet(from: 1, .ping(seq: 1, target: Fixture.id(9))), from: Fixture.address(1), now: Fixture.ms(1))
        #expect(Fixture.sends(e).isEmpty)
        #expect(a.stats.membership.misdirectedPings == 1)
    }

    @Test func everyMemberIsProbedWithinOneRound() {
        var a = Fixture.core(0, knows: Array(0..<20))
        var probed = Set<NodeID>()
        var t = Instant.zero
        // Answer every ping so health stays perfect: 19 periods cover all 19 others.
        while t < .milliseconds(19_000 + 1_000) {
            t = t.advanced(byNanoseconds: 10_000_000)
            for (p, _, via) in Fixture.sends(a.tick(now: t)) where via == .datagram {
                if case .ping(let seq, let target) = p.message {
                    probed.insert(target)
                    let i = Int(target.high)
                    _ = a.receive(Fixture.packet(from: i, .ack(seq: seq)), from: Fixture.address(i), now: t)
                }
            }
        }
        #expect(probed.count == 19)
    }

    @Test func suspicionTimeoutFollowsLifeguardFormula() {
        let id9 = Fixture.id(9)
        var s = Suspicion(
            incarnation: 1, from: id9, startedAt: .zero, minimumTimeout: .seconds(8), maximumTimeout: .seconds(48),
            expectedConfirmations: 2)
        #expect(s.timeout == .seconds(48))
        do {
            let c = s.confirm(from: id9)
            #expect(!c, "the accuser is not an independent confirmation")
        }
        do {
            let c = s.confirm(from: Fixture.id(1))
            #expect(c)
        }
        // 48 − 40·ln 2 / ln 3 = 22.76 s
        #expect(s.timeout == .milliseconds(22_762))
        #expect(s.deadline == .milliseconds(22_762))
        do {
            let c = s.confirm(from: Fixture.id(1))
            #expect(!c)
        }
        do {
            let c = s.confirm(from: Fixture.id(2))
            #expect(c)
        }
        #expect(s.timeout == .seconds(8))
        do {
            let c = s.confirm(from: Fixture.id(3))
            #expect(!c, "beyond k confirmations nothing changes")
        }
        let none = Suspicion(
            incarnation: 1, from: id9, startedAt: .zero, minimumTimeout: .nanoseconds(5),
            maximumTimeout: .nanoseconds(30), expectedConfirmations: 0)
        #expect(none.timeout == .nanoseconds(5))
    }

    @Test func healthMultiplierIsBoundedAndScales() {
        var lhm = Awareness(max: 8)
        lhm.apply(-3)
        #expect(lhm.score == 0)
        lhm.apply(20)
        #expect(lhm.score == 8)
        #expect(lhm.scale(.milliseconds(500)) == .milliseconds(4_500))
    }
}
