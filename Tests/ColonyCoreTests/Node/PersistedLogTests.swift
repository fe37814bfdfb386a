import Testing

@testable import ColonyCore

/// What a driver logs comes from `.persist` alone: each entry is complete (a record with what
/// it changed, a member with its previous state, collected keys) and comes before the event
/// that tells the application the same thing.
@Suite(.tags(.node)) struct PersistedLogTests {
    /// The `.persist` effect for `entry`, and the index of the first event matching `event`.
    static func order(_ effects: [Effect], persisted: (Persisted) -> Bool, event: (Event) -> Bool) -> (Int?, Int?) {
        let p = effects.firstIndex { if case .persist(let x) = $0 { persisted(x) } else { false } }
        let e = effects.firstIndex { if case .emit(let x) = $0 { event(x) } else { false } }
        return (p, e)
    }

    @Test func aWriteIsLoggedWithTheChangeItMade() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let first = try a.durablePut("k", value: [1], wallMs: 1, now: Fixture.ms(1)).0.get()
        let (res, effects) = a.durablePut("k", value: [2], wallMs: 2, now: Fixture.ms(2))
        let second = try res.get()
        let logged = effects.compactMap { if case .persist(.record(let c)) = $0 { c } else { nil } }
        #expect(logged == [KeyChange(record: second, superseded: [first.dot], siblings: 1, local: true)])
        #expect(logged == RS.keyChanges(effects), "the log entry is the change the application is told")
        let (p, e) = Self.order(
            effects, persisted: { if case .record = $0 { true } else { false } },
            event: { if case .keyChanged = $0 { true } else { false } })
        #expect(try #require(p) < #require(e))
    }

    @Test func aRemoteRecordIsLoggedWithTheChangeItMade() throws {
        var a = Fixture.core(0, knows: [0, 1])
        let r = RS.record("k", [9], Fixture.id(1), 1)
        let effects = a.receive(RS.gossip(from: 1, [.record(r)]), from: Fixture.address(1), now: Fixture.ms(1))
        let logged = effects.compactMap { if case .persist(.record(let c)) = $0 { c } else { nil } }
        #expect(logged == [KeyChange(record: r, superseded: [], siblings: 1, local: false)])
        #expect(logged == RS.keyChanges(effects))
    }

    @Test func memberChangesAreLoggedBeforeTheyAreAnnounced() throws {
        var b = Fixture.core(1, knows: [0, 1])
        let effects = b.receive(
            Fixture.packet(from: 0, .gossip, [.alive(Fixture.member(2, incarnation: 1))]), from: Fixture.address(0),
            now: Fixture.ms(1))
        let logged = effects.compactMap {
            if case .persist(.member(let m, let previous)) = $0 { (m, previous) } else { nil }
        }
        #expect(logged.count == 1)
        #expect(logged.first?.0.id == Fixture.id(2) && logged.first?.1 == nil)
        let announced = Fixture.events(effects).compactMap {
            if case .memberChanged(let m, let previous) = $0 { (m, previous) } else { nil }
        }
        #expect(announced.map(\.0) == logged.map(\.0))
        let (p, e) = Self.order(
            effects, persisted: { if case .member = $0 { true } else { false } },
            event: { if case .memberChanged = $0 { true } else { false } })
        #expect(try #require(p) < #require(e))
    }

    @Test func collectedKeysAreLogged() throws {
        var s = Settings.lan
        s.tombstoneGrace = .seconds(10)
        var a = Fixture.core(0, knows: [0, 1], settings: s)
        _ = try a.put("k", value: [1], wallMs: 1, now: Fixture.ms(1)).0.get()
        _ = try a.put("k", value: nil, wallMs: 2, now: Fixture.ms(2)).0.get()
        let later = advance(&a, from: Fixture.ms(2), to: Fixture.ms(20_000), stepMs: 100)
        let logged = later.compactMap { if case .persist(.collected(let keys)) = $0 { keys } else { nil } }
        #expect(logged == [["k"]])
        #expect(Fixture.events(later).filter { $0 == .keysCollected(["k"]) }.count == 1)
    }
}
