import Testing

@testable import ColonyCore

/// The audit of ping-req helpers on its own: one ignored request is what loss does to an
/// honest helper, so only a run longer than the measured loss explains counts as freeloading,
/// and any answer clears the helper (issue 17: under 10 % loss per hook, single observations
/// graylisted honest members, whose refutations were then ignored).
@Suite(.tags(.machine)) struct HelperAuditTests {
    let helper = Fixture.id(4)

    /// How many ignored requests in a row it takes `trust` to call `helper` a freeloader.
    func runToVerdict(_ trust: inout Trust, limit: Int = 200) -> Int? {
        for n in 1...limit where trust.helperIgnored(helper, probeSuccess: 1) { return n }
        return nil
    }

    @Test func onACleanNetworkThreeIgnoredRequestsInARowAreFreeloading() {
        var trust = Trust()
        #expect(Trust.ignoredRunNeeded(probeSuccess: 1) == 3)
        #expect(runToVerdict(&trust) == 3)
    }

    @Test func anAnswerClearsTheHelper() {
        var trust = Trust()
        var verdicts: [Bool] = []
        verdicts.append(trust.helperIgnored(helper, probeSuccess: 1))
        verdicts.append(trust.helperIgnored(helper, probeSuccess: 1))
        trust.helperAnswered(helper)
        // The run starts over after an answer: the third verdict comes two requests later.
        verdicts.append(trust.helperIgnored(helper, probeSuccess: 1))
        verdicts.append(trust.helperIgnored(helper, probeSuccess: 1))
        verdicts.append(trust.helperIgnored(helper, probeSuccess: 1))
        #expect(verdicts == [false, false, false, false, true])
    }

    @Test(arguments: [(0.81 * 0.81, 13), (0.5625 * 0.5625, 36)])
    func underLossTheRunNeededGrowsSoLossAloneAlmostNeverReachesIt(answered: Double, needed: Int) {
        var record = ProbeRecord()
        // Direct probes answered at the rate two legs of the loss allow (10 % and 25 % per hook).
        var rng = Xoshiro256(seed: 5)
        for _ in 0..<2_000 { record.note(answered: Double(rng.below(1_000_000)) / 1e6 < answered) }
        #expect(abs(record.success - answered) < 0.1, "estimated \(record.success)")
        // Within a couple of requests of the exact figure (the estimate moves with the draws).
        let run = Trust.ignoredRunNeeded(probeSuccess: record.success)
        #expect(abs(run - needed) <= needed / 3, "needed \(run)")
        // The chance an honest helper ignores that many in a row is at most one in a million.
        var p = 1.0
        for _ in 0..<run { p *= 1 - min(0.99, record.success) }
        #expect(p <= 1e-6)
    }

    @Test func streaksAreBounded() {
        var trust = Trust()
        for i in 0..<(Trust.helperStreaksCapacity + 50) {
            _ = trust.helperIgnored(Fixture.id(1000 + i), probeSuccess: 1)
        }
        #expect(trust.ignoredStreaks.count <= Trust.helperStreaksCapacity)
    }
}
