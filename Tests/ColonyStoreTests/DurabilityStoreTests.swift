import ColonyCore
import ColonyStore
import Foundation
import GRDB
import Synchronization
import Testing

/// The data directory against what disks and upgrades do: a database from a newer build, a
/// row that no longer decodes, files others could read, and commits kept off the caller's
/// thread in order.
@Suite(.tags(.storage)) struct DurabilityStoreTests {
    func tempDir() -> String { NSTemporaryDirectory() + "colony-durable-\(UUID().uuidString)" }

    func database(_ dir: String) throws -> DatabaseQueue {
        var config = Configuration()
        config.busyMode = .timeout(5)
        return try DatabaseQueue(path: dir + "/colony.sqlite", configuration: config)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    func record(_ key: String, counter: UInt64) -> StateRecord {
        StateRecord(
            key: key, value: [UInt8(counter)], dot: Dot(origin: NodeID(high: 1, low: 2), counter: counter),
            prev: 0, context: CausalContext(), timestamp: HLCTimestamp(physicalMs: 5, logical: 0))
    }

    func keyEntry(_ r: StateRecord) -> [LogRecord] {
        LogRecord.entries(for: .record(KeyChange(record: r, superseded: [], siblings: 1, local: false)), atMs: 1)
    }

    /// A database a newer build migrated is refused, with both versions named, and left as it
    /// was.
    @Test func aNewerSchemaIsRefusedNamingBothVersions() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try NodeStore(directory: dir).identity()
        let supported = NodeStore.schemaVersion
        #expect(try database(dir).read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == supported)
        try database(dir).writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = 9") }
        let path = dir + "/colony.sqlite"
        #expect(throws: StoreError.newerSchema(path: path, found: 9, supported: supported)) {
            try NodeStore(directory: dir)
        }
        let text = StoreError.newerSchema(path: path, found: 9, supported: supported).description
        #expect(text.contains("schema version 9") && text.contains("supports (\(supported))"))
        #expect(try database(dir).read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 9, "left as it was")
    }

    /// A newer build's migration this one does not know is refused too (whatever
    /// `user_version` says).
    @Test func anUnknownMigrationIsRefused() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try NodeStore(directory: dir)
        try database(dir).write {
            try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
            try $0.execute(sql: "PRAGMA user_version = 0")
        }
        #expect {
            try NodeStore(directory: dir)
        } throws: { error in
            guard case StoreError.newerSchema(_, let found, let supported) = error else { return false }
            return found == NodeStore.schemaVersion + 1 && supported == NodeStore.schemaVersion
        }
    }

    /// A row that does not decode is moved to the quarantine table with the reason; the rest
    /// of the state is rebuilt, and the next start finds a clean log.
    @Test func aCorruptRowIsQuarantinedAndTheRestLoads() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try NodeStore(directory: dir)
        let log = EventLog(store: store)
        let a = record("a", counter: 1)
        let b = record("b", counter: 2)
        let event = UserEvent(
            id: Dot(origin: NodeID(high: 1, low: 2), counter: 1), lamport: 1, name: "e", payload: [1], coalesce: false)
        _ = try await log.append(keyEntry(a) + keyEntry(b))
        _ = try await log.append(LogRecord.entries(for: .event(event), atMs: 1))
        try await database(dir).write { db in
            try db.execute(sql: "UPDATE event_log SET data = X'FF01' WHERE subject = 'b'")
            try db.execute(
                sql: "INSERT INTO event_log (at_ms, kind, subject, data, info) VALUES (1, 'event', 'x', 'text', '{}')")
        }
        let restored = try log.loadState(recentEvents: 10)
        #expect(restored.records == [a])
        #expect(restored.events == [event])
        #expect(restored.quarantined == [2, 4])
        let rows = try log.quarantined()
        #expect(rows.map(\.offset) == [2, 4] && rows.allSatisfy { !$0.reason.isEmpty })
        #expect(try log.count() == 2, "moved out of the log")
        #expect(try log.loadState(recentEvents: 10).quarantined.isEmpty)
        // Readers of the log skip the gap.
        #expect(try log.read(from: 1).map(\.offset) == [1, 3])
    }

    /// The database holds the node's private key: created owner-only, WAL included, and an
    /// existing one others could read is made owner-only at open (and reported).
    @Test func theDatabaseHoldingTheKeyIsOwnerOnly() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/colony.sqlite"
        let store = try NodeStore(directory: dir)
        _ = try store.identity()
        #expect(store.madePrivate.isEmpty)
        #expect(try mode(path) == 0o600)
        #expect(try mode(path + "-wal") == 0o600)
        #expect(try mode(dir) == 0o700)

        chmod(path, 0o644)
        chmod(path + "-wal", 0o644)
        let reopened = try NodeStore(directory: dir)
        #expect(reopened.madePrivate.map(\.file) == [path, path + "-wal"])
        #expect(reopened.madePrivate.map(\.mode) == [0o644, 0o644])
        #expect(try mode(path) == 0o600 && mode(path + "-wal") == 0o600)
        #expect(try reopened.identity().id == store.identity().id, "the same identity")
    }

    /// Work submitted to the log runs on its queue after the appends submitted before it,
    /// and `backlog` counts what waits.
    @Test func commitsRunInOrderOffTheCallersThread() async throws {
        let log = try EventLog()
        let gate = DispatchSemaphore(value: 0)
        let seen = Mutex<[Int64]>([])
        log.perform { gate.wait() }
        log.append(keyEntry(record("a", counter: 1))) { _ in }
        log.append(keyEntry(record("b", counter: 2)) + keyEntry(record("c", counter: 3))) { _ in }
        log.perform { seen.withLock { $0.append((try? log.lastOffset()) ?? -1) } }
        #expect(log.backlog == 3, "nothing committed while the queue is held")
        gate.signal()
        await log.drain()
        #expect(seen.withLock { $0 } == [3], "ran after both appends were committed")
        #expect(log.backlog == 0)
    }
}
