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

    // MARK: Relaying, on the machine alone

    func target(_ i: Int, cell: Bool) -> Router.Target {
        Router.Target(id: Fixture.id(i), peer: Peer(id: Fixture.id(i), address: Fixture.address(i)), cell: cell)
    }

    @Test func aRelayedLotGoesToEachTargetLessWhatCameFromIt() {
        let (a, b, c) = (event(1).1, event(2).1, event(3).1)
        let lot = [
            Router.Relay(update: a, except: Fixture.id(2), toCell: true, toQueens: true), // from worker 2
            Router.Relay(update: b, except: nil, toCell: true, toQueens: false), // for the cell only
            Router.Relay(update: c, except: Fixture.id(7), toCell: true, toQueens: true), // from queen 7
        ]
        let targets = [target(1, cell: true), target(2, cell: true), target(7, cell: false), target(8, cell: false)]
        let plan = Router.fanOut(lot, to: targets)
        #expect(plan.forCell == [a, b, c] && plan.forQueens == [a, c])
        let byTarget = plan.deliveries.map { ($0.target.id, $0.delivery) }
        #expect(byTarget.map(\.0) == [Fixture.id(1), Fixture.id(2), Fixture.id(7), Fixture.id(8)], "in order")
        #expect(byTarget[0].1 == .shared(cell: true), "worker 1 sent nothing: the shared packing")
        #expect(byTarget[1].1 == .own([b, c]), "worker 2 does not get its own broadcast back")
        #expect(byTarget[2].1 == .own([a]), "queen 7 neither, nor what is for the cell only")
        #expect(byTarget[3].1 == .shared(cell: false))
    }

    @Test func aTargetWithNothingToGetIsLeftOut() {
        let lot = [Router.Relay(update: event(1).1, except: Fixture.id(7), toCell: false, toQueens: true)]
        let plan = Router.fanOut(lot, to: [target(1, cell: true), target(7, cell: false)])
        #expect(plan.deliveries.isEmpty, "nothing for the cell, and the only queen's lot came from her")
    }

    @Test func theRelayIsPacedByItsBucket() {
        var r = Router()
        for i in 0..<3 { #expect(r.pace(rate: 10, burst: 3, now: .zero) == .zero, "burst \(i)") }
        let wait = r.pace(rate: 10, burst: 3, now: .zero)
        #expect(wait == .milliseconds(100), "one token every 100 ms at 10 a second")
        #expect(r.pace(rate: 10, burst: 3, now: Fixture.ms(100)) == .zero)
    }

    @Test func broadcastsPackIntoDatagramsAndTheOversizedGoAlone() {
        let small = (1...30).map { event($0).1 }
        let big = Update.event(
            UserEvent(
                id: Dot(origin: Fixture.id(1), counter: 99), lamport: 99, name: "big",
                payload: Array(repeating: 1, count: 2_000), coalesce: false))
        let packets = Router.pack(.cell, small + [big], from: Fixture.id(0), maxDatagramBytes: 400)
        #expect(packets.reduce(0) { $0 + $1.items } == 31, "every broadcast, once")
        let streamed = packets.filter { $0.via == .stream }
        #expect(streamed.count == 1 && streamed[0].items == 1, "too large for a datagram: alone, by stream")
        for p in packets where p.via == .datagram {
            #expect(Wire.size(of: p.packet) <= 400)
        }
        #expect(packets.count > 2, "split over several datagrams")
    }
}
