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

@Suite struct SuspicionAndRefutationTests {
    @Test func suspectedNodeRefutesWithHigherIncarnation() {
        var a = H.core(0, knows: [0, 1, 2])
        let effects = a.receive(
            H.packet(from: 1, .gossip, [.suspect(id: H.id(0), incarnation: 1, from: H.id(1))]), from: H.address(1),
            now: H.ms(10))
        #expect(a.me.incarnation == 2)
        #expect(effects.contains(.persist(.incarnation(2))))
        #expect(a.stats.refutations == 1)
        #expect(a.awareness.score == 1, "refuting raises the local health multiplier")
        #expect(a.queue.entries[.member(H.id(0))]?.update == .alive(a.me))
    }

    @Test func deadClaimAboutSelfIsRefuted() {
        var a = H.core(0, knows: [0, 1, 2])
        _ = a.receive(
            H.packet(from: 1, .gossip, [.dead(id: H.id(0), incarnation: 4, from: H.id(1))]), from: H.address(1),
            now: H.ms(10))
        #expect(a.me.incarnation == 5)
        #expect(a.me.status == .alive)
    }

    @Test func unrefutedSuspicionBecomesDeadAfterTimeout() {
        // N = 5: k = α − 2 = 1 expected confirmation; min = α·max(1, log10 5)·T = 3 s, max = 18 s.
        var b = H.core(1, knows: [0, 1, 2, 3, 4])
        let e = b.receive(
            H.packet(from: 0, .gossip, [.suspect(id: H.id(2), incarnation: 1, from: H.id(0))]), from: H.address(0),
            now: H.ms(0))
        #expect(H.changes(e).map(\.status) == [.suspect])
        // (Single jumps, so this node's own probes — unanswered here — cannot confirm.)
        _ = b.tick(now: H.ms(17_900))
        #expect(b.member(H.id(2))?.status == .suspect, "no confirmation: waits the maximum timeout")
        let last = b.tick(now: H.ms(18_100))
        #expect(b.member(H.id(2))?.status == .dead)
        #expect(H.changes(last).contains { $0.id == H.id(2) && $0.status == .dead })
    }

    @Test func independentConfirmationShrinksTimeoutToMinimum() {
        var b = H.core(1, knows: [0, 1, 2, 3, 4])
        _ = b.receive(
            H.packet(from: 0, .gossip, [.suspect(id: H.id(2), incarnation: 1, from: H.id(0))]), from: H.address(0),
            now: H.ms(0))
        // The same accuser again counts for nothing; another member does.
        _ = b.receive(
            H.packet(from: 0, .gossip, [.suspect(id: H.id(2), incarnation: 1, from: H.id(0))]), from: H.address(0),
            now: H.ms(100))
        #expect(b.membership.suspicions[H.id(2)]?.confirmations == 0)
        _ = b.receive(
            H.packet(from: 3, .gossip, [.suspect(id: H.id(2), incarnation: 1, from: H.id(3))]), from: H.address(3),
            now: H.ms(200))
        #expect(b.membership.suspicions[H.id(2)]?.confirmations == 1)
        advance(&b, from: H.ms(200), to: H.ms(2_900))
        #expect(b.member(H.id(2))?.status == .suspect)
        advance(&b, from: H.ms(2_900), to: H.ms(3_100))
        #expect(b.member(H.id(2))?.status == .dead, "confirmed suspicion times out at the minimum, 3 s")
    }

    @Test func refutationCancelsSuspicion() {
        var b = H.core(1, knows: [0, 1, 2, 3, 4])
        _ = b.receive(
            H.packet(from: 0, .gossip, [.suspect(id: H.id(2), incarnation: 1, from: H.id(0))]), from: H.address(0),
            now: H.ms(0))
        _ = b.receive(
            H.packet(from: 2, .gossip, [.alive(H.member(2, incarnation: 2))]), from: H.address(2), now: H.ms(500))
        #expect(b.member(H.id(2))?.status == .alive)
        advance(&b, from: H.ms(500), to: H.ms(20_000))
        #expect(b.member(H.id(2))?.status.isLive == true)
        #expect(b.member(H.id(2))?.incarnation ?? 0 >= 2)
    }

    @Test func staleIncarnationsChangeNothing() {
        var c = H.core(0, knows: [0, 1])
        _ = c.receive(
            H.packet(from: 1, .gossip, [.alive(H.member(1, incarnation: 5))]), from: H.address(1), now: H.ms(1))
        #expect(c.member(H.id(1))?.incarnation == 5)
        let before = c.stats.redundantUpdates
        let e = c.receive(
            H.packet(
                from: 1, .gossip,
                [
                    .suspect(id: H.id(1), incarnation: 3, from: H.id(0)),
                    .alive(H.member(1, incarnation: 4)),
                    .dead(id: H.id(1), incarnation: 4, from: H.id(0)),
                    .alive(H.member(1, incarnation: 5)),
                ]), from: H.address(1), now: H.ms(2))
        #expect(H.changes(e).isEmpty)
        #expect(c.member(H.id(1)) == H.member(1, incarnation: 5))
        #expect(c.stats.redundantUpdates == before + 4, "each duplicate or stale update is counted")
    }

    @Test func remoteDeadVerdictInStateExchangeBecomesSuspicion() {
        var c = H.core(0, knows: [0, 1, 2])
        var inbound = Inbound(sender: H.id(1), ingress: .local)
        c.mergeRemote([H.member(2, incarnation: 1, status: .dead)], from: H.id(1), &inbound)
        #expect(c.member(H.id(2))?.status == .suspect, "memberlist mergeState: dead → suspect, so it can refute")
    }

    @Test func unsupportedProtocolVersionIsRefused() {
        var c = H.core(0, knows: [0])
        var old = H.member(7)
        old.protocolVersion = 0
        _ = c.receive(H.packet(from: 7, .gossip, [.alive(old)]), from: H.address(7), now: H.ms(1))
        #expect(c.member(H.id(7)) == nil)
        #expect(c.stats.unsupportedVersion == 1)
    }

    @Test func lateTimerDefersVerdictUntilInputIsRead() {
        // N = 3: one confirmation expected and none comes, so the timeout is the maximum, 18 s.
        var b = H.core(1, knows: [0, 1, 2])
        _ = b.receive(
            H.packet(from: 0, .gossip, [.suspect(id: H.id(2), incarnation: 1, from: H.id(0))]), from: H.address(0),
            now: H.ms(0))
        // The node stalls and next runs at 20 s: its overdue timer must not kill node 2 yet.
        _ = b.tick(now: H.ms(20_000))
        #expect(b.member(H.id(2))?.status == .suspect)
        #expect(b.stats.lateVerdictsDeferred >= 1)
        // The refutation that waited in the socket is read: node 2 stays alive.
        _ = b.receive(
            H.packet(from: 2, .ack(seq: 999), [.alive(H.member(2, incarnation: 2))]), from: H.address(2),
            now: H.ms(20_001))
        advance(&b, from: H.ms(20_001), to: H.ms(22_000))
        #expect(b.member(H.id(2))?.status.isLive == true)
    }
}

@Suite struct LeaveAndTombstoneTests {
    @Test func gracefulLeaveSpreadsThenCompletes() {
        var a = H.core(0, knows: [0, 1, 2, 3])
        _ = a.leave(now: H.ms(0))
        #expect(a.phase == .leaving)
        #expect(a.queue.entries[.member(H.id(0))]?.update == .left(id: H.id(0), incarnation: 1))
        let effects = advance(&a, from: H.ms(0), to: H.ms(6_000))
        #expect(H.events(effects).contains(.leaveCompleted))
        #expect(a.phase == .left)
        let leftSent = H.sends(effects).contains { $0.0.updates.contains(.left(id: H.id(0), incarnation: 1)) }
        #expect(leftSent)
        #expect(a.tick(now: H.ms(60_000)).isEmpty, "a node that left does nothing more")
    }

    @Test func leavingWhenEveryoneElseHasLeftCompletesAtOnce() {
        var a = H.core(0, knows: [0, 1, 2])
        _ = a.receive(
            H.packet(from: 1, .gossip, [.left(id: H.id(1), incarnation: 1)]), from: H.address(1), now: H.ms(1))
        _ = a.leave(now: H.ms(2))
        #expect(a.phase == .leaving, "node 2 is still live: tell it")
        // The last live peer leaves too while we are leaving: nobody is left to tell.
        _ = a.receive(
            H.packet(from: 2, .gossip, [.left(id: H.id(2), incarnation: 1)]), from: H.address(2), now: H.ms(3))
        let effects = advance(&a, from: H.ms(3), to: H.ms(400))
        #expect(H.events(effects).contains(.leaveCompleted), "no live peer to tell: no need to wait out the timeout")
        var b = H.core(0, knows: [0, 1])
        _ = b.receive(
            H.packet(from: 1, .gossip, [.left(id: H.id(1), incarnation: 1)]), from: H.address(1), now: H.ms(1))
        #expect(H.events(b.leave(now: H.ms(2))).contains(.leaveCompleted), "alone: the leave completes at once")
    }

    @Test func leftIsATombstoneThatOnlyAHigherIncarnationRevives() {
        var b = H.core(1, knows: [0, 1, 2, 3])
        _ = b.receive(
            H.packet(from: 0, .gossip, [.left(id: H.id(0), incarnation: 1)]), from: H.address(0), now: H.ms(1))
        #expect(b.member(H.id(0))?.status == .left)
        _ = b.receive(
            H.packet(from: 2, .gossip, [.alive(H.member(0, incarnation: 1))]), from: H.address(2), now: H.ms(2))
        #expect(b.member(H.id(0))?.status == .left, "stale alive cannot resurrect a tombstone")
        _ = b.receive(
            H.packet(from: 0, .gossip, [.alive(H.member(0, incarnation: 2))]), from: H.address(0), now: H.ms(3))
        #expect(b.member(H.id(0))?.status == .alive, "a restarted node rejoins with a higher incarnation")
    }

    @Test func tombstonesAreReclaimedAfterTheirTimeout() {
        var s = Settings.lan
        s.tombstoneTimeout = .seconds(10)
        var b = H.core(1, knows: [0, 1, 2, 3], settings: s)
        _ = b.receive(
            H.packet(from: 0, .gossip, [.left(id: H.id(0), incarnation: 1)]), from: H.address(0), now: H.ms(1))
        let effects = advance(&b, from: H.ms(1), to: H.ms(16_000), stepMs: 100)
        #expect(H.events(effects).contains(.memberReclaimed(H.id(0))))
        #expect(b.member(H.id(0)) == nil)
    }
}

@Suite struct ProbingAndLifeguardTests {
    /// Runs a core, answering nothing, until it sends a ping; returns the ping and time.
    func firstPing(_ core: inout NodeCore, from start: Instant) -> (
        seq: UInt32, target: NodeID, updates: [Update], at: Instant
    )? {
        var t = start
        for _ in 0..<1000 {
            t = t.advanced(byNanoseconds: 10_000_000)
            for (p, _, via) in H.sends(core.tick(now: t)) where via == .datagram {
                if case .ping(let seq, let target) = p.message { return (seq, target, p.updates, t) }
            }
        }
        return nil
    }

    @Test func failedProbeRaisesHealthMultiplierAndSuspectsAndAckLowersIt() throws {
        var s = Settings.lan
        s.indirectChecks = 0
        var a = H.core(0, knows: [0, 1], settings: s)
        let ping = try #require(firstPing(&a, from: .zero))
        #expect(ping.target == H.id(1))
        // No ack by the end of the period: suspect, and LHM + 1 (no helpers to nack). The
        // same tick starts the next probe, whose ping carries the suspicion (buddy system).
        let effects = advance(&a, from: ping.at, to: ping.at + .milliseconds(1_000))
        #expect(a.member(H.id(1))?.status == .suspect)
        #expect(a.awareness.score == 1)
        let next = try #require(
            H.sends(effects).first { $0.2 == .datagram && { if case .ping = $0 { true } else { false } }($0.0.message) }
        )
        guard case .ping(let seq, let target) = next.0.message else { return }
        #expect(target == H.id(1))
        #expect(next.0.updates.first == .suspect(id: H.id(1), incarnation: 1, from: H.id(0)))
        // A direct ack lowers the multiplier again.
        _ = a.receive(H.packet(from: 1, .ack(seq: seq)), from: H.address(1), now: ping.at + .milliseconds(1_001))
        #expect(a.awareness.score == 0)
    }

    @Test func helpersAreAskedAndMissingNacksCountAgainstUs() throws {
        var a = H.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(firstPing(&a, from: .zero))
        // At the probe timeout: ping-req to k = 3 helpers, and a stream fallback ping.
        let effects = advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        let reqs = H.sends(effects).filter { if case .pingReq = $0.0.message { true } else { false } }
        #expect(reqs.count == 3)
        #expect(!reqs.contains { $0.1.id == ping.target })
        #expect(
            H.sends(effects).contains { $0.2 == .stream && $0.0.message == .ping(seq: ping.seq, target: ping.target) })
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
        var a = H.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(firstPing(&a, from: .zero))
        // Refusals count only for a member that missed its ping (before the fallback: ignored).
        _ = a.streamFailed(to: H.address(Int(ping.target.high)), refused: true, now: ping.at + .milliseconds(100))
        #expect(a.member(ping.target)?.status == .alive)
        advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        // A timeout is not a refusal (a partition or a paused process looks like this).
        _ = a.streamFailed(to: H.address(Int(ping.target.high)), refused: false, now: ping.at + .milliseconds(520))
        #expect(a.member(ping.target)?.status == .alive)
        // Refused: nothing listens on its port any more.
        let e = a.streamFailed(to: H.address(Int(ping.target.high)), refused: true, now: ping.at + .milliseconds(530))
        #expect(a.member(ping.target)?.status == .dead)
        #expect(H.changes(e).contains { $0.id == ping.target && $0.status == .dead })
        #expect(a.stats.refusedProbes == 1)
        // Another address refusing changes nothing.
        var b = H.core(0, knows: [0, 1, 2, 3, 4])
        let p2 = try #require(firstPing(&b, from: .zero))
        advance(&b, from: p2.at, to: p2.at + .milliseconds(510))
        _ = b.streamFailed(to: H.address(99), refused: true, now: p2.at + .milliseconds(530))
        #expect(b.member(p2.target)?.status == .alive)
    }

    @Test func indirectAckAvoidsSuspicionWithoutLoweringHealth() throws {
        var a = H.core(0, knows: [0, 1, 2, 3, 4])
        let ping = try #require(firstPing(&a, from: .zero))
        let effects = advance(&a, from: ping.at, to: ping.at + .milliseconds(510))
        let helper = try #require(H.sends(effects).first { if case .pingReq = $0.0.message { true } else { false } })
        _ = a.receive(
            Packet(from: helper.1.id!, message: .ack(seq: ping.seq)), from: helper.1.address,
            now: ping.at + .milliseconds(600))
        advance(&a, from: ping.at + .milliseconds(600), to: ping.at + .milliseconds(1_000))
        #expect(a.member(ping.target)?.status == .alive)
        #expect(a.awareness.score == 0)
    }

    @Test func helperForwardsAckOrNacks() {
        var h = H.core(2, knows: [0, 1, 2])
        let e = h.receive(
            H.packet(from: 0, .pingReq(seq: 77, target: H.id(1), targetAddress: H.address(1))), from: H.address(0),
            now: H.ms(0))
        let ping = H.sends(e).compactMap { if case .ping(let s, let t) = $0.0.message, t == H.id(1) { s } else { nil } }
            .first
        #expect(ping != nil)
        let fwd = h.receive(H.packet(from: 1, .ack(seq: ping!)), from: H.address(1), now: H.ms(5))
        #expect(H.sends(fwd).contains { $0.0.message == .ack(seq: 77) && $0.1.id == H.id(0) })
        // A second request that the target never answers gets a nack at 80% of the timeout.
        _ = h.receive(
            H.packet(from: 0, .pingReq(seq: 78, target: H.id(1), targetAddress: H.address(1))), from: H.address(0),
            now: H.ms(10))
        let later = advance(&h, from: H.ms(10), to: H.ms(420))
        #expect(H.sends(later).contains { $0.0.message == .nack(seq: 78) })
    }

    @Test func pingMeantForAnotherNodeIsIgnored() {
        var a = H.core(0, knows: [0, 1])
        let e = a.receive(H.packet(from: 1, .ping(seq: 1, target: H.id(9))), from: H.address(1), now: H.ms(1))
        #expect(H.sends(e).isEmpty)
        #expect(a.stats.misdirectedPings == 1)
    }

    @Test func everyMemberIsProbedWithinOneRound() {
        var a = H.core(0, knows: Array(0..<20))
        var probed = Set<NodeID>()
        var t = Instant.zero
        // Answer every ping so health stays perfect: 19 periods cover all 19 others.
        while t < .milliseconds(19_000 + 1_000) {
            t = t.advanced(byNanoseconds: 10_000_000)
            for (p, _, via) in H.sends(a.tick(now: t)) where via == .datagram {
                if case .ping(let seq, let target) = p.message {
                    probed.insert(target)
                    let i = Int(target.high)
                    _ = a.receive(H.packet(from: i, .ack(seq: seq)), from: H.address(i), now: t)
                }
            }
        }
        #expect(probed.count == 19)
    }

    @Test func suspicionTimeoutFollowsLifeguardFormula() {
        let id9 = H.id(9)
        var s = Suspicion(
            incarnation: 1, from: id9, startedAt: .zero, minNanoseconds: 8_000_000_000, maxNanoseconds: 48_000_000_000,
            expectedConfirmations: 2)
        #expect(s.timeoutNanoseconds == 48_000_000_000)
        do {
            let c = s.confirm(from: id9)
            #expect(!c, "the accuser is not an independent confirmation")
        }
        do {
            let c = s.confirm(from: H.id(1))
            #expect(c)
        }
        // 48 − 40·ln 2 / ln 3 = 22.76 s
        #expect(s.timeoutNanoseconds == 22_762_000_000)
        do {
            let c = s.confirm(from: H.id(1))
            #expect(!c)
        }
        do {
            let c = s.confirm(from: H.id(2))
            #expect(c)
        }
        #expect(s.timeoutNanoseconds == 8_000_000_000)
        do {
            let c = s.confirm(from: H.id(3))
            #expect(!c, "beyond k confirmations nothing changes")
        }
        let none = Suspicion(
            incarnation: 1, from: id9, startedAt: .zero, minNanoseconds: 5, maxNanoseconds: 30, expectedConfirmations: 0
        )
        #expect(none.timeoutNanoseconds == 5)
    }

    @Test func healthMultiplierIsBoundedAndScales() {
        var lhm = Awareness(max: 8)
        lhm.apply(-3)
        #expect(lhm.score == 0)
        lhm.apply(20)
        #expect(lhm.score == 8)
        #expect(lhm.scale(500) == 4_500)
    }
}
