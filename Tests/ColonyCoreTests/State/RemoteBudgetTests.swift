import Testing

@testable import ColonyCore

/// Issue 18: peers' records obey the budgets a local write keeps — an origin's bytes and the
/// whole state's — so one member's records cannot fill every node's memory.
@Suite struct RemoteBudgetTests {
    @Test func peersRecordsKeepTheOriginsAndTheStatesBudgets() {
        var s = Settings.lan
        s.maxBytesPerNode = 1_000
        s.maxStateBytes = 1_500
        var b = Fixture.core(0, knows: [0, 1, 2, 3], settings: s)
        let v = [UInt8](repeating: 7, count: 600) // a footprint of 649 bytes with a 1-byte key
        func send(_ r: StateRecord, from i: Int) {
            _ = b.receive(RS.gossip(from: i, [.record(r)]), from: Fixture.address(i), now: Fixture.ms(10))
        }
        send(RS.record("a", v, RS.o, 1), from: 1)
        #expect(b.get("a").siblings.count == 1, "within its origin's budget")
        send(RS.record("b", v, RS.o, 2, prev: 1), from: 1)
        #expect(b.get("b").siblings.isEmpty, "over its origin's 1,000 bytes")
        #expect(b.stats.state.recordsOverBudget == 1)
        send(RS.record("c", v, RS.p, 1), from: 2)
        #expect(b.get("c").siblings.count == 1, "another origin, the state at 1,298 of 1,500 bytes")
        send(RS.record("d", v, RS.r, 1), from: 3)
        #expect(b.get("d").siblings.isEmpty, "over the whole state's 1,500 bytes")
        #expect(b.stats.state.recordsOverBudget == 2)
        // A write that replaces the origin's own record frees what it supersedes.
        let replace = RS.record("a", v, RS.o, 3, prev: 1, context: RS.context([(RS.dot(RS.o, 1), 0)]))
        send(replace, from: 1)
        #expect(b.get("a").siblings.map(\.dot) == [RS.dot(RS.o, 3)])
        // Deletions always pass.
        send(RS.record("c", nil, RS.p, 2, prev: 1, context: RS.context([(RS.dot(RS.p, 1), 0)])), from: 2)
        #expect(b.get("c").siblings.allSatisfy { $0.value == nil })
        #expect(b.stats.state.recordsOverBudget == 2)
    }
}
