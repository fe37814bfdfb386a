import HashTreeCollections
import Testing

@testable import ColonyCore

/// The `Trust` machine on its own, with no node around it: scores cross their thresholds in
/// order, decay forgives and forgets, and the buckets refuse floods, holding one breach per
/// window against the sender.
@Suite(.tags(.machine)) struct TrustScoresTests {
    let settings = TrustSettings()
    let peer = Fixture.id(7)

    @Test func forgedSignaturesGraylistThenProposeEvictionInThatOrder() {
        var trust = Trust()
        var crossings: [Trust.Crossing] = []
        // -20 · n²: below -30 at the second forgery, below -300 at the fourth.
        for _ in 0..<4 { crossings += trust.penalize(peer, .invalidSignature, settings) }
        #expect(crossings.count == 2)
        guard case .graylisted(let g) = crossings.first, case .evictionProposed(let e) = crossings.last else {
            Issue.record("expected graylisted then evictionProposed, got \(crossings)")
            return
        }
        #expect(g == -80)
        #expect(e == -320)
        #expect(trust.scores[peer]?.graylisted == true)
        #expect(trust.scores[peer]?.evictionProposed == true)
        #expect(trust.scores[peer]?.forgeries == 4)
    }

    @Test func oneSlipIsForgivenWithoutCrossingAnything() {
        var trust = Trust()
        #expect(trust.penalize(peer, .rateLimited, settings).isEmpty)
        #expect(trust.score(of: peer, settings) == -5)
        #expect(trust.reward(peer, timelyAck: true, settings).isEmpty)
        #expect(trust.score(of: peer, settings) == -4)
    }

    @Test func decayForgivesAGraylistedPeerAndThenForgetsIt() {
        var trust = Trust()
        _ = trust.penalize(peer, .invalidSignature, settings)
        let graylisted = trust.penalize(peer, .invalidSignature, settings)
        #expect(graylisted == [.graylisted(score: -80)])
        var forgiven = false
        var seconds = 0
        while trust.scores[peer] != nil && seconds < 1_000 {
            let c = trust.decay(peer, settings, isMember: true)
            if c.contains(where: { if case .forgiven = $0 { true } else { false } }) { forgiven = true }
            seconds += 1
        }
        #expect(forgiven, "a graylisted peer is forgiven as its penalties fade")
        #expect(trust.scores[peer] == nil, "a neutral score is forgotten")
        #expect(seconds > 10 && seconds < 1_000)
    }

    @Test func aPeerThatLeftIsForgottenOnceNotGraylisted() {
        var trust = Trust()
        _ = trust.penalize(peer, .rateLimited, settings)
        #expect(trust.decay(peer, settings, isMember: false).isEmpty)
        #expect(trust.scores[peer] == nil)
        // Graylisted, it is kept (its gossip stays ignored) even after it left the table.
        for _ in 0..<2 { _ = trust.penalize(peer, .invalidSignature, settings) }
        _ = trust.decay(peer, settings, isMember: false)
        #expect(trust.scores[peer]?.graylisted == true)
    }

    @Test func bucketsRefuseAFloodAndHoldOneBreachPerWindow() {
        var trust = Trust()
        var t = settings
        t.packetsPerSecond = 10
        t.packetBurst = 10
        let now = Instant.milliseconds(1_000)
        for _ in 0..<10 { #expect(trust.admit(from: peer, bytes: 100, via: .datagram, now: now, t) == .admitted) }
        #expect(trust.admit(from: peer, bytes: 100, via: .datagram, now: now, t) == .refused(breach: peer))
        #expect(trust.admit(from: peer, bytes: 100, via: .datagram, now: now, t) == .refused(breach: nil))
        // The next 100 ms window: one token back (10/s), then a new breach.
        let later = now + .milliseconds(100)
        #expect(trust.admit(from: peer, bytes: 100, via: .datagram, now: later, t) == .admitted)
        #expect(trust.admit(from: peer, bytes: 100, via: .datagram, now: later, t) == .refused(breach: peer))
    }

    @Test func strangersShareOneLargerBucketAndAreNeverBlamed() {
        var trust = Trust()
        var t = settings
        t.packetsPerSecond = 10
        t.packetBurst = 10
        t.strangerShare = 4
        let now = Instant.milliseconds(5)
        for _ in 0..<40 { #expect(trust.admit(from: nil, bytes: 0, via: .stream, now: now, t) == .admitted) }
        #expect(trust.admit(from: nil, bytes: 0, via: .stream, now: now, t) == .refused(breach: nil))
        #expect(trust.packetBuckets[Trust.strangers] != nil)
        trust.forgetSenders(count: 0) { _ in false }
        #expect(trust.packetBuckets.keys.elementsEqual([Trust.strangers]))
    }
}
