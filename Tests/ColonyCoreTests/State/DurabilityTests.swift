import Testing

@testable import ColonyCore

/// This node's writes and events against a log commit that fails (`recordsFailed`,
/// `eventsFailed`): undone here, announced to nobody, sent to nobody — and the hybrid clock
/// restored from a log holding a record dated far ahead.
@Suite(.tags(.node)) struct DurabilityTests {
    /// A write whose commit failed is undone: the key reads as before it (what it superseded
    /// is back), the state digest too, the application is told nothing, and no packet ever
    /// carries it — not gossip, not a state sync, not after a later write is made durable.
    @Test func aWriteWhoseCommitFailedLeavesNoTraceAndIsNeverSent() throws {
        var net = Net([0: Fixture.core(0, knows: [0, 1]), 1: Fixture.core(1, knows: [0, 1])])
        let (r1, e1) = net.cores[0]!.durablePut("k", value: [1], wallMs: 1_000, now: Fixture.ms(1))
        let first = try r1.get()
        net.absorb(e1, from: 0)
        net.run(until: Fixture.ms(2_000))
        #expect(net.cores[1]!.get("k").siblings == [first])
        let before = net.cores[0]!.state
        net.beginRecording()

        let (r2, e2) = net.cores[0]!.put("k", value: [2], wallMs: 2_000, now: net.now)
        let lost = try r2.get()
        #expect(net.cores[0]!.get("k").siblings == [lost], "applied here while its commit runs")
        let failed = net.cores[0]!.recordsFailed(through: lost.dot.counter, now: net.now)
        #expect(RS.keyChanges(e2 + failed).isEmpty, "the application was never told of it")
        #expect(net.cores[0]!.get("k").siblings == [first], "what it superseded is back")
        #expect(net.cores[0]!.state.contentHash == before.contentHash)
        #expect(net.cores[0]!.state.recordCount == before.recordCount)
        #expect(net.cores[0]!.state.bytes == before.bytes)
        #expect(net.cores[0]!.stats.state.writesUndone == 1)
        net.absorb(e2 + failed, from: 0)

        // A later write is made durable: it goes out, the undone one does not.
        let (r3, e3) = net.cores[0]!.durablePut("other", value: [3], wallMs: 3_000, now: net.now)
        let later = try r3.get()
        net.absorb(e3, from: 0)
        net.run(until: Fixture.ms(4_000))
        net.cores[1]!.startStateSync(with: Fixture.member(0).peer)
        net.absorb(net.cores[1]!.flush(), from: 1)
        net.run(until: Fixture.ms(6_000))
        #expect(net.packets.contains { RS.records(in: $0.packet).contains(later) }, "the nodes did exchange records")
        #expect(net.packets.allSatisfy { !RS.records(in: $0.packet).contains { $0.dot == lost.dot } })
        #expect(net.cores[1]!.get("k").siblings == [first])
        #expect(net.cores[1]!.get("other").siblings == [later])
        #expect(net.cores[0]!.state.contentHash == net.cores[1]!.state.contentHash, "the two agree")
    }

    /// The write that created a key is undone: the key is gone, not a tombstone.
    @Test func anUndoneFirstWriteRemovesTheKey() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let w = try a.put("fresh", value: [1], wallMs: 10, now: Fixture.ms(1)).0.get()
        _ = a.recordsFailed(through: w.dot.counter, now: Fixture.ms(2))
        #expect(a.get("fresh").siblings.isEmpty)
        #expect(!a.state.sortedKeys.contains("fresh") && a.state.tombstonedKeys == 0)
        #expect(a.state.recordCount == 0 && a.state.bytes == 0 && a.state.contentHash == 0)
        #expect(a.queue.isEmpty)
    }

    /// A delete whose commit failed leaves the value it deleted.
    @Test func anUndoneDeleteLeavesTheValue() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let v = try a.durablePut("k", value: [7], wallMs: 10, now: Fixture.ms(1)).0.get()
        let d = try a.put("k", value: nil, wallMs: 20, now: Fixture.ms(2)).0.get()
        #expect(a.get("k").value == nil && a.state.tombstonedKeys == 1)
        _ = a.recordsFailed(through: d.dot.counter, now: Fixture.ms(3))
        #expect(a.get("k").siblings == [v] && a.state.tombstonedKeys == 0)
    }

    /// Writes failing together (one batch) are undone newest first: the key is back to the
    /// last durable value. A write that failed is never brought back by a later one undone
    /// after it.
    @Test func writesUndoneInAnyOrderNeverResurrectAFailedOne() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let v1 = try a.durablePut("k", value: [1], wallMs: 10, now: Fixture.ms(1)).0.get()
        let v2 = try a.put("k", value: [2], wallMs: 20, now: Fixture.ms(2)).0.get()
        let v3 = try a.put("k", value: [3], wallMs: 30, now: Fixture.ms(3)).0.get()
        _ = a.recordsFailed(through: v3.dot.counter, now: Fixture.ms(4))
        #expect(a.get("k").siblings == [v1], "both undone together")

        var b = Fixture.core(0, knows: [0, 1])
        let w1 = try b.durablePut("k", value: [1], wallMs: 10, now: Fixture.ms(1)).0.get()
        let w2 = try b.put("k", value: [2], wallMs: 20, now: Fixture.ms(2)).0.get()
        let w3 = try b.put("k", value: [3], wallMs: 30, now: Fixture.ms(3)).0.get()
        _ = b.recordsFailed(through: w2.dot.counter, now: Fixture.ms(4))
        #expect(b.get("k").siblings == [w3], "the later write still resolves it")
        _ = b.recordsFailed(through: w3.dot.counter, now: Fixture.ms(5))
        #expect(b.get("k").siblings == [w1], "undoing the later write does not bring the failed one back")
        #expect(v2.dot.counter < v3.dot.counter)
    }

    /// A peer's record that arrived already covered by a waiting write (its context came from
    /// a read elsewhere) is what the key holds once that write is undone.
    @Test func aRecordCoveredOnlyByTheUndoneWriteComesBack() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let theirs = RS.record("k", [9], Fixture.id(1), 1, ms: 5)
        let readElsewhere = RS.context([(theirs.dot, 0)])
        let mine = try a.put("k", value: [1], context: readElsewhere, wallMs: 10, now: Fixture.ms(1)).0.get()
        let effects = a.receive(RS.gossip(from: 1, [.record(theirs)]), from: Fixture.address(1), now: Fixture.ms(2))
        #expect(RS.persistedRecords(effects) == [theirs], "logged as covered")
        #expect(a.get("k").siblings == [mine])
        _ = a.recordsFailed(through: mine.dot.counter, now: Fixture.ms(3))
        #expect(a.get("k").siblings == [theirs])
    }

    /// An eviction this queen wrote whose commit failed no longer counts.
    @Test func anUndoneEvictionNoLongerCounts() throws {
        var a = Fixture.core(0, knows: [0, 1, 2])
        a.anchorWallClock(ms: 1_000_000, now: Fixture.ms(1))
        a.issueEviction(of: Fixture.id(2), cell: CellID(7), accusations: [], revocation: nil)
        _ = a.flush()
        #expect(a.evictions[Fixture.id(2)] != nil, "in force while its commit runs")
        _ = a.recordsFailed(through: a.replicated.writeCounter, now: Fixture.ms(2))
        #expect(a.evictions[Fixture.id(2)] == nil)
        #expect(a.state.sortedKeys.isEmpty)
    }

    /// An event whose commit failed is neither delivered here nor sent nor buffered for late
    /// joiners; the next one is, once durable.
    @Test func anEventWhoseCommitFailedIsNeitherDeliveredNorSent() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let (r1, e1) = a.event("deploy", payload: [1], now: Fixture.ms(1))
        let lost = try r1.get()
        #expect(RS.persistedEvents(e1) == [lost], "handed to the log at once")
        #expect(RS.userEvents(e1).isEmpty && a.recentEvents.isEmpty && a.queue.isEmpty, "nothing before durable")
        let failed = a.eventsFailed(through: lost.id.counter, now: Fixture.ms(2))
        #expect(RS.userEvents(failed).isEmpty && a.recentEvents.isEmpty && a.queue.isEmpty)
        #expect(a.stats.state.writesUndone == 1)

        let (r2, e2) = a.event("deploy", payload: [2], now: Fixture.ms(3))
        let kept = try r2.get()
        let durable = a.eventsDurable(through: kept.id.counter, now: Fixture.ms(4))
        #expect(RS.userEvents(e2 + durable).map(\.event) == [kept])
        #expect(a.recentEvents == [kept])
        #expect(a.queue.contains(subject: .event(kept.id)) && !a.queue.contains(subject: .event(lost.id)))
    }

    /// At restart, a record dated beyond the drift bound is restored but does not move the
    /// hybrid clock: the next write is dated by the wall clock, not in the future. One within
    /// the bound does move it.
    @Test func aFutureRecordInTheLogDoesNotPoisonTheClockAtRestart() throws {
        let wall: UInt64 = 1_700_000_000_000
        let farAhead = RS.record("k", [1], Fixture.id(1), 1, ms: wall + maxClockDriftMs + 86_400_000)
        var a = NodeCore(me: Fixture.member(0), settings: .lan, seed: 1, now: .zero)
        #expect(a.restore(records: [farAhead], events: [], wallMs: wall) == 1)
        a.anchorWallClock(ms: wall, now: .zero)
        _ = a.start(now: .zero)
        #expect(a.get("k").siblings == [farAhead], "kept")
        let next = try a.put("n", value: [1], wallMs: wall + 5, now: Fixture.ms(5)).0.get()
        #expect(next.timestamp.physicalMs == wall + 5, "dated by the wall clock")

        let near = RS.record("k", [1], Fixture.id(1), 1, ms: wall + 60_000)
        var b = NodeCore(me: Fixture.member(0), settings: .lan, seed: 1, now: .zero)
        #expect(b.restore(records: [near], events: [], wallMs: wall) == 0)
        b.anchorWallClock(ms: wall, now: .zero)
        _ = b.start(now: .zero)
        let after = try b.put("n", value: [1], wallMs: wall + 5, now: Fixture.ms(5)).0.get()
        #expect(after.timestamp > near.timestamp, "within the bound the clock follows the log")
    }
}
