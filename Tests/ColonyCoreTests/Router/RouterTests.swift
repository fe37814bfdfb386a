import Testing

@testable import ColonyCore

/// The `Router` machine on its own: the cache of routed broadcasts that answers grafts.
@Suite(.tags(.machine)) struct RouterTests {
    func event(_ i: Int) -> (BroadcastID, Update) {
        let e = UserEvent(
            id: Dot(origin: Fixture.id(1), counter: UInt64(i)), lamport: UInt64(i), name: "e", payload: [],
            coalesce: false)
        return (.event(e.id), .event(e))
    }

    @Test func theCacheKeepsTheNewestUpToItsCapacity() {
        var r = Router()
        for i in 1...10 {
            let (id, u) = event(i)
            r.remember(id, u, capacity: 4)
        }
        #expect(r.routed.count == 4)
        for i in 1...6 { #expect(r.routed[event(i).0] == nil, "event \(i) is among the oldest") }
        for i in 7...10 { #expect(r.routed[event(i).0] != nil, "event \(i) is among the newest") }
    }

    @Test func rememberingAgainKeepsTheFirstPlace() {
        var r = Router()
        for i in 1...3 { r.remember(event(i).0, event(i).1, capacity: 3) }
        r.remember(event(1).0, event(1).1, capacity: 3) // again: no new place
        r.remember(event(4).0, event(4).1, capacity: 3)
        #expect(r.routed[event(1).0] == nil, "the first-remembered goes first")
        #expect(r.routed.count == 3)
        #expect(r.routedOrder.count - r.routedHead == 3)
    }

    @Test func theOrderIsCompactedAsItGrows() {
        var r = Router()
        for i in 1...10_000 { r.remember(event(i).0, event(i).1, capacity: 16) }
        #expect(r.routed.count == 16)
        #expect(r.routedOrder.count <= 16 + 4_097, "consumed order entries are dropped in batches")
    }
}
