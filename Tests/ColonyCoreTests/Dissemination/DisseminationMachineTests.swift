import Testing

@testable import ColonyCore

/// The `Dissemination` machine on its own: the budget on gossip out.
@Suite(.tags(.machine)) struct DisseminationMachineTests {
    func machine() -> Dissemination { Dissemination(queue: BroadcastQueue(maxEntries: 16, largeThreshold: 1_000)) }

    @Test func theFirstDatagramIsFreeAndTheRestSpendTheBudget() {
        var d = machine()
        let now = Instant.milliseconds(1)
        // 10,000 bytes a second of budget, 1,000-byte datagrams: 10 extra at once.
        #expect(d.allowedPackets(4, of: 1_000, budget: 10_000, now: now) == 4)
        #expect(d.allowedPackets(20, of: 1_000, budget: 10_000, now: now) == 8, "7 tokens were left, plus the free one")
        #expect(d.allowedPackets(5, of: 1_000, budget: 10_000, now: now) == 1, "spent: only the free datagram")
        // A tenth of a second refills 1,000 bytes: one more.
        #expect(d.allowedPackets(5, of: 1_000, budget: 10_000, now: now + .milliseconds(100)) == 2)
    }

    @Test func oneDatagramNeverTouchesTheBudget() {
        var d = machine()
        for _ in 0..<100 { #expect(d.allowedPackets(1, of: 1_400, budget: 0, now: .zero) == 1) }
        #expect(d.gossipBucket?.tokens == 0)
    }
}
