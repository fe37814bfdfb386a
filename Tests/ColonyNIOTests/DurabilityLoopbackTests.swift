import ColonyCore
import ColonyNIO
import ColonyStore
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// A node whose disk fails under it, and one restarted on a damaged log, over real sockets.
@Suite(.serialized, .tags(.loopback)) struct DurabilityLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()

    func node(_ name: String, dataDirectory: String? = nil, signatures: Bool = true) -> ColonyNode {
        var c = ColonyNode.Configuration(
            name: name, bind: Address(host: "127.0.0.1", port: 0), settings: .local, dataDirectory: dataDirectory)
        c.signatures = signatures
        return ColonyNode(configuration: c, logger: logs.logger(name), eventLoopGroup: group)
    }

    func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("colony-durable-\(UUID().uuidString)").path
    }

    /// A second connection to the node's database, as a disk fault would be: from it the log
    /// can be made to refuse every append.
    func database(_ dir: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(5)
        return try DatabaseQueue(path: dir + "/colony.sqlite", configuration: config)
    }

    func failAppends(_ dir: String, _ fail: Bool) throws {
        try database(dir).write { db in
            if fail {
                try db.execute(
                    sql: """
                        CREATE TRIGGER injected_failure BEFORE INSERT ON event_log
                        BEGIN SELECT RAISE(ABORT, 'injected disk failure'); END
                        """)
            } else {
                try db.execute(sql: "DROP TRIGGER injected_failure")
            }
        }
    }

    /// A write and an event the log cannot commit: the caller gets `notDurable` naming the
    /// cause, the write is undone on the node, and neither reaches the other member — not
    /// when later writes are made durable and gossiped, not by anti-entropy.
    @Test func aWriteTheLogCannotTakeIsUndoneAndReachesNobody() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = node("disk-a", dataDirectory: dir)
        let b = node("disk-b")
        try await startSwarm([a, b])
        let heard = NIOLockedValueBox<[String]>([])
        let events = b.events
        let listener = Task {
            for await e in events { if case .userEvent(let u, _) = e { heard.withLockedValue { $0.append(u.name) } } }
        }
        try await a.put("k", value: [1])
        #expect(await eventually(10) { (try? await b.get("k").value) == [1] })

        try failAppends(dir, true)
        await #expect {
            try await a.put("k", value: [2])
        } throws: { error in
            guard case ColonyError.notDurable(let why) = error else { return false }
            return why.contains("injected disk failure")
        }
        await #expect {
            try await a.event("lost", payload: [1])
        } throws: { error in
            if case ColonyError.notDurable = error { true } else { false }
        }
        #expect(try await a.get("k").value == [1], "undone on the node that wrote it")

        try failAppends(dir, false)
        try await a.put("later", value: [3])
        _ = try await a.event("kept", payload: [1])
        #expect(await eventually(10) { (try? await b.get("later").value) == [3] })
        #expect(await eventually(10) { heard.withLockedValue { $0.contains("kept") } })
        // Anti-entropy runs every second or so under .local: give it a few rounds.
        try await Task.sleep(for: .seconds(3))
        #expect(try await b.get("k").value == [1], "the undone write reached nobody")
        #expect(!heard.withLockedValue { $0.contains("lost") }, "nor did the event")
        #expect(await a.stateSummary().digest == b.stateSummary().digest)
        #expect(logs.all.contains { $0.contains("could not append to the event log") })
        listener.cancel()
        await a.stop()
        await b.stop()
    }

    /// A refutation's new incarnation is committed off the event loop: while the database is
    /// locked by someone else the node keeps answering at once, and the refutation is sent
    /// only once its incarnation is durable.
    @Test func aRefutationWaitsForItsIncarnationWithoutBlockingTheLoop() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = node("fsync-a", dataDirectory: dir, signatures: false)
        let b = node("fsync-b", signatures: false)
        let addresses = try await startSwarm([a, b])
        #expect(await eventually(10) { await allSee([a, b], alive: 2) })
        let me = try #require(await a.me())
        let bID = try #require(await b.me()).id

        // Another connection holds SQLite's write lock for a while (the node waits up to 5 s).
        let db = try database(dir)
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? db.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                locked.signal()
                release.wait()
                try db.execute(sql: "COMMIT")
            }
        }
        locked.wait()
        // b "suspects" a: a refutes with a higher incarnation, which must be durable first.
        let forged = Packet(
            from: bID, message: .gossip, updates: [.suspect(id: me.id, incarnation: me.incarnation, from: bID)])
        let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: addresses[0].host, port: Int(addresses[0].port))
        try await sender.writeAndFlush(
            AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: Wire.encode(forged))))
        try await Task.sleep(for: .milliseconds(300))
        let asked = ContinuousClock.now
        _ = await a.members()
        #expect(ContinuousClock.now - asked < .milliseconds(500), "the event loop is not waiting for the disk")
        #expect(await a.me()?.incarnation ?? 0 > me.incarnation, "the core refuted at once")
        let seenByB = await b.members().first { $0.id == me.id }?.incarnation
        #expect(seenByB == me.incarnation, "the refutation is not sent before its incarnation is durable")
        release.signal()
        #expect(await eventually(10) { await b.members().first { $0.id == me.id }?.incarnation ?? 0 > me.incarnation })
        let stored = try await database(dir).read { try Int64.fetchOne($0, sql: "SELECT value FROM incarnation") }
        #expect(UInt64(stored ?? 0) > me.incarnation)
        try? await sender.close()
        await a.stop()
        await b.stop()
    }

    /// A log row that no longer decodes does not stop the node: it starts with everything
    /// else, the row moved to the quarantine table and the start logged.
    @Test func aCorruptLogRowIsQuarantinedAndTheNodeStarts() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = node("scarred", dataDirectory: dir)
        _ = try await a.start()
        try await a.put("x", value: [1])
        try await a.put("y", value: [2])
        await a.stop()
        try await database(dir).write { try $0.execute(sql: "UPDATE event_log SET data = X'FFFF' WHERE subject = 'y'") }

        let b = node("scarred", dataDirectory: dir)
        _ = try await b.start()
        #expect(try await b.get("x").value == [1])
        #expect(try await b.get("y").siblings.isEmpty)
        #expect(
            try await database(dir).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM event_log_quarantine") } == 1
        )
        #expect(logs.all.contains { $0.contains("event_log_quarantine") })
        await b.stop()
    }
}
