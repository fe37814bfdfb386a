import ColonyCore
import ColonyNIO
import Foundation
import Logging
import NIOPosix
import Testing

/// The hive on real sockets (issue #6): eight nodes on loopback form cells with leased
/// queens; a queen crashes while events flow; her cell accepts a new queen in a higher term
/// and no event is lost.
@Suite(.serialized, .tags(.loopback)) struct HiveLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()

    func node(_ name: String) -> ColonyNode {
        var settings = Settings.local
        settings.hive.enabled = true
        settings.hive.minimumUptime = .milliseconds(500)
        settings.hive.foundSpacing = .milliseconds(200)
        let c = ColonyNode.Configuration(name: name, bind: Address(host: "127.0.0.1", port: 0), settings: settings)
        return ColonyNode(configuration: c, logger: logs.logger(name), eventLoopGroup: group)
    }

    /// Every running node routes through a queen that holds her lease.
    func formed(_ nodes: [ColonyNode]) async -> Bool {
        var leased: Set<NodeID> = []
        var views: [HiveView] = []
        for x in nodes {
            let v = await x.hive()
            views.append(v)
            if v.holdsLease, let me = v.me { leased.insert(me) }
        }
        return views.allSatisfy { v in
            v.routing && (v.state.role == .queen ? v.holdsLease : v.state.queen.map(leased.contains) ?? false)
        }
    }

    @Test func aCellReplacesItsCrashedQueenAndLosesNoEvent() async throws {
        let nodes = (0..<8).map { node("h\($0)") }
        try await startSwarm(nodes)
        #expect(await eventually(10) { await allSee(nodes, alive: 8) })
        #expect(await eventually(20) { await formed(nodes) }, "the hive formed")

        // The largest cell's queen, and her workers.
        var queen = 0
        var size = 0
        for (i, x) in nodes.enumerated() {
            let v = await x.hive()
            if v.state.role == .queen, let r = v.state.roster, r.count > size {
                queen = i
                size = r.count
            }
        }
        let view = await nodes[queen].hive()
        let cell = try #require(view.state.cell)
        let oldTerm = view.state.term
        let workerIDs = Set((view.state.roster?.voters ?? []).map(\.id)).subtracting([view.me!])
        var workers: [Int] = []
        for (i, x) in nodes.enumerated() where i != queen {
            if let id = await x.me()?.id, workerIDs.contains(id) { workers.append(i) }
        }
        #expect(workers.count >= 2, "a cell of at least three: \(size)")

        let survivors = nodes.indices.filter { $0 != queen }
        let received = nodes.map { _ in IDSet() }
        var listeners: [Task<Void, Never>] = []
        for i in survivors {
            let stream = nodes[i].events
            listeners.append(
                Task {
                    for await e in stream {
                        if case .userEvent(let ev, _) = e, ev.name == "tick" { received[i].insert(ev.id) }
                    }
                })
        }
        let sent = IDSet()
        let senders = survivors
        let sender = Task {
            var k = 0
            while !Task.isCancelled {
                if let e = try? await nodes[senders[k % senders.count]].event("tick", payload: Array("\(k)".utf8)) {
                    sent.insert(e.id)
                }
                k += 1
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let crashAt = ContinuousClock.now
        await nodes[queen].stop()
        // A worker of her cell becomes queen in a higher term; the others follow her.
        let replaced = await eventually(10) {
            for w in workers {
                let v = await nodes[w].hive()
                if v.state.cell == cell, v.state.role == .queen, v.state.term > oldTerm, v.holdsLease { return true }
            }
            return false
        }
        let failover = ContinuousClock.now - crashAt
        #expect(replaced, "a new queen holds the lease of cell \(cell)")
        #expect(failover < .seconds(3), "failover took \(failover)")
        try await Task.sleep(for: .milliseconds(500))
        // More than 20 events in all (each returns once durable: on a loaded machine, fsync
        // makes them slower than the sender's 20 ms pace, so wait for the count, not a time).
        let enough = await eventually(20) { sent.all.count > 20 }
        sender.cancel()
        _ = await sender.value
        let all = sent.all
        #expect(enough, "only \(all.count) events were sent")
        let delivered = await eventually(20) { survivors.allSatisfy { all.isSubset(of: received[$0].all) } }
        #expect(
            delivered,
            "every survivor got all \(all.count) events: \(survivors.map { received[$0].all.intersection(all).count })")
        for l in listeners { l.cancel() }
        // Every surviving worker of the cell follows the new queen.
        var queens: Set<NodeID> = []
        for w in workers {
            let v = await nodes[w].hive()
            if v.state.cell == cell, let q = v.state.queen { queens.insert(q) }
        }
        #expect(queens.count == 1, "one queen for the cell: \(queens)")

        // `colony hive depose` from one of her workers: the new queen abdicates and sits out;
        // the cell elects a third (it needs two live voters besides her, so a cell of four).
        if workers.count >= 3, queens.count == 1 {
            // The crashed queen leaves the roster first (silent for the worker timeout); then
            // a worker that follows the cell's queen now (so its term is hers) asks.
            var asker: Int?
            _ = await eventually(10) {
                var queenRoster = 0
                asker = nil
                for w in workers {
                    let v = await nodes[w].hive()
                    guard v.state.cell == cell else { continue }
                    if v.state.role == .queen { queenRoster = v.state.roster?.count ?? 0 }
                    if v.state.role == .worker, v.routing { asker = w }
                }
                return queenRoster == workers.count && asker != nil
            }
            let d = try await nodes[try #require(asker)].deposeQueen(cell: cell)
            #expect(d.cell == cell && !d.local)
            let reelected = await eventually(10) {
                for w in workers where await nodes[w].me()?.id != d.queen {
                    let v = await nodes[w].hive()
                    if v.state.cell == cell, v.state.role == .queen, v.state.term > d.term, v.holdsLease { return true }
                }
                return false
            }
            #expect(reelected, "a deposed queen's cell elects another")
        }
        for i in survivors { await nodes[i].stop() }
    }
}
