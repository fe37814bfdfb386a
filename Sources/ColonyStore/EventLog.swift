import ColonyCore
import Dispatch
import Foundation
import GRDB
import Synchronization

/// What a log entry records.
public enum LogKind: String, Sendable, CaseIterable, Codable {
    /// A member's record changed (data: the member).
    case member
    /// A key was written here or elsewhere and this node holds the record (data: the record).
    case key
    /// A record arrived that a later write already covered: kept so a rebuilt node has seen
    /// exactly what this one had (data: the record).
    case covered
    /// A deleted key's tombstone was collected (subject: the key).
    case collected
    /// A user event (data: the event).
    case event
}

/// An entry to append.
public struct LogRecord: Sendable, Equatable {
    public var kind: LogKind
    public var subject: String
    public var data: [UInt8]
    /// A small JSON object with details (previous status, superseded dots, …).
    public var info: String
    public var atMs: Int64

    public init(kind: LogKind, subject: String, data: [UInt8], info: String = "{}", atMs: Int64) {
        self.kind = kind
        self.subject = subject
        self.data = data
        self.info = info
        self.atMs = atMs
    }
}

/// An appended entry: its offset (1, 2, 3…, never reused) and what was appended.
public struct LogEntry: Sendable, Equatable {
    public var offset: Int64
    public var record: LogRecord

    /// The update stored in `data` (a member, record or event), if it decodes.
    package var update: Update? { try? Wire.decodeUpdate(record.data) }
}

/// The node's durable event log (docs/design.md §4, event sourcing): every change it observes,
/// appended in order to SQLite (WAL, synchronous FULL). The replicated state is rebuilt from
/// it at start; readers follow it from any offset.
///
/// Appends are group-committed on one background queue: entries that arrive while a commit
/// is running go together in the next transaction, so a burst costs one fsync, not one each.
package final class EventLog: Sendable {
    let db: DatabaseQueue
    let queue = DispatchQueue(label: "colony.eventlog")
    private let pending = Mutex<Pending>(Pending())

    struct Pending {
        var records: [LogRecord] = []
        var completions: [(count: Int, done: @Sendable (Result<[LogEntry], any Error>) -> Void)] = []
        var scheduled = false
    }

    /// The log in a node's store (its data directory).
    public convenience init(store: NodeStore) {
        self.init(db: store.db)
    }

    /// A log kept in memory (a node without a data directory).
    public convenience init() throws {
        let db = try DatabaseQueue()
        try NodeStore.migrator.migrate(db)
        self.init(db: db)
    }

    init(db: DatabaseQueue) { self.db = db }

    /// Append `records` in order; `done` runs on the log's queue after they are durable
    /// (or failed), with their offsets.
    public func append(_ records: [LogRecord], done: @escaping @Sendable (Result<[LogEntry], any Error>) -> Void) {
        guard !records.isEmpty else {
            done(.success([]))
            return
        }
        let schedule = pending.withLock { p -> Bool in
            p.records += records
            p.completions.append((records.count, done))
            if p.scheduled { return false }
            p.scheduled = true
            return true
        }
        if schedule { queue.async { self.commit() } }
    }

    public func append(_ records: [LogRecord]) async throws -> [LogEntry] {
        try await withCheckedThrowingContinuation { c in
            append(records) { c.resume(with: $0) }
        }
    }

    private func commit() {
        let batch = pending.withLock { p -> Pending in
            let b = p
            p = Pending()
            return b
        }
        let result: Result<[LogEntry], any Error>
        do {
            let entries = try db.write { db -> [LogEntry] in
                var out: [LogEntry] = []
                out.reserveCapacity(batch.records.count)
                for r in batch.records {
                    try db.execute(
                        sql: "INSERT INTO event_log (at_ms, kind, subject, data, info) VALUES (?, ?, ?, ?, ?)",
                        arguments: [r.atMs, r.kind.rawValue, r.subject, Data(r.data), r.info])
                    out.append(LogEntry(offset: db.lastInsertedRowID, record: r))
                }
                return out
            }
            result = .success(entries)
        } catch {
            result = .failure(error)
        }
        var start = 0
        for c in batch.completions {
            switch result {
            case .success(let entries): c.done(.success(Array(entries[start..<(start + c.count)])))
            case .failure(let e): c.done(.failure(e))
            }
            start += c.count
        }
    }

    /// Entries with offset ≥ `from`, oldest first, at most `limit`.
    public func read(from offset: Int64, limit: Int = 1000, kinds: Set<LogKind>? = nil) throws -> [LogEntry] {
        try db.read { db in
            var sql = "SELECT offset, at_ms, kind, subject, data, info FROM event_log WHERE offset >= ?"
            var args: [any DatabaseValueConvertible] = [offset]
            if let kinds, !kinds.isEmpty {
                sql += " AND kind IN (" + kinds.map { _ in "?" }.joined(separator: ",") + ")"
                args += kinds.sorted { $0.rawValue < $1.rawValue }.map(\.rawValue)
            }
            sql += " ORDER BY offset LIMIT ?"
            args.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.entry)
        }
    }

    /// The offset of the newest entry (0 if empty).
    public func lastOffset() throws -> Int64 {
        try db.read { try Int64.fetchOne($0, sql: "SELECT max(offset) FROM event_log") ?? 0 }
    }

    public func count() throws -> Int {
        try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM event_log") ?? 0 }
    }

    /// What the replicated state is rebuilt from: every record this node held or saw, in
    /// log order, and its most recent user events.
    public func loadState(recentEvents: Int) throws -> (records: [StateRecord], events: [UserEvent]) {
        try db.read { db in
            var records: [StateRecord] = []
            let rows = try Row.fetchCursor(
                db, sql: "SELECT data FROM event_log WHERE kind IN ('key', 'covered') ORDER BY offset")
            while let row = try rows.next() {
                let data: Data = row[0]
                if case .record(let r) = try Wire.decodeUpdate(data) { records.append(r) }
            }
            var events: [UserEvent] = []
            let eventRows = try Row.fetchAll(
                db, sql: "SELECT data FROM event_log WHERE kind = 'event' ORDER BY offset DESC LIMIT ?",
                arguments: [recentEvents])
            for row in eventRows.reversed() {
                let data: Data = row[0]
                if case .event(let e) = try Wire.decodeUpdate(data) { events.append(e) }
            }
            return (records, events)
        }
    }

    static func entry(_ row: Row) -> LogEntry {
        let data: Data = row["data"]
        let kind = LogKind(rawValue: row["kind"]) ?? .member
        return LogEntry(
            offset: row["offset"],
            record: LogRecord(
                kind: kind, subject: row["subject"], data: [UInt8](data), info: row["info"], atMs: row["at_ms"]))
    }
}
