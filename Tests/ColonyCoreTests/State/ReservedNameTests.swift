import Testing

@testable import ColonyCore

/// Names under Colony's prefixes are refused at the core's public entry points; Colony's own
/// queries take the internal path and travel like any other.
@Suite(.tags(.node)) struct ReservedNameTests {
    @Test func userQueriesAndEventsUnderTheReservedPrefixAreRefused() {
        var a = Fixture.core(0, knows: [0, 1])
        for name in ["_colony", "_colony-keyring", "_colony/x", "_colonyanything"] {
            let (q, qEffects) = a.query(name, payload: [], timeout: .seconds(1), now: Fixture.ms(1))
            #expect(throws: StateError.reservedName(name)) { try q.get() }
            #expect(Fixture.sends(qEffects).isEmpty && Fixture.events(qEffects).isEmpty)
            let (e, eEffects) = a.event(name, payload: [1], now: Fixture.ms(2))
            #expect(throws: StateError.reservedName(name)) { try e.get() }
            #expect(RS.persistedEvents(eEffects).isEmpty && RS.userEvents(eEffects).isEmpty)
        }
        #expect(!a.queue.contains(subject: .event(Dot(origin: Fixture.id(0), counter: 1))), "nothing was broadcast")
        #expect(NodeCore.isReservedName("_colony-keyring") && !NodeCore.isReservedName("colony"))
        #expect(!NodeCore.isReservedName("my_colony"))
    }

    @Test func userWritesToReservedKeysAreRefused() {
        var a = Fixture.core(0, knows: [0, 1])
        for key in ["_colony/evicted/x", "_colony/revoked/y", "_colony/"] {
            let (r, effects) = a.put(key, value: [1], wallMs: 1, now: Fixture.ms(1))
            #expect(throws: StateError.reservedName(key)) { try r.get() }
            #expect(RS.persistedRecords(effects).isEmpty)
            #expect(NodeCore.isReservedKey(key))
        }
        #expect(!NodeCore.isReservedKey("_colonyx"), "keys are reserved under `_colony/` only")
    }

    @Test func colonysOwnQueriesTakeTheInternalPathAndTravelAsUsual() throws {
        var a = Fixture.core(0, knows: [0, 1])
        var b = Fixture.core(1, knows: [0, 1])
        let (res, effects) = a.query(ColonyQuery.keyring, payload: [7], timeout: .seconds(2), now: Fixture.ms(10))
        let q = try res.get()
        #expect(q.name == "_colony-keyring")
        #expect(ColonyQuery(q) == .keyring)
        #expect(Fixture.events(effects).contains(.queryReceived(q)))
        let got = b.receive(RS.gossip(from: 0, [.query(q)]), from: Fixture.address(0), now: Fixture.ms(20))
        #expect(Fixture.events(got) == [.queryReceived(q)], "received like any query; the driver answers it")
        let user = try a.query("load", payload: [], timeout: .seconds(1), now: Fixture.ms(30)).0.get()
        #expect(ColonyQuery(user) == nil)
    }
}
