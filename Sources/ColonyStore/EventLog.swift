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
/// Every commit runs on one serial queue, never on the caller's thread (the driver's event
/// loop): appends and the store's other writes (`perform`) in the order they were submitted.
/// Appends that arrive while a commit is running go together in the next transaction, so a
/// burst costs one fsync, not one each. `backlog` counts the entries waiting, so a caller can
/// bound it.
package final class EventLog: Sendable {
    let db: DatabaseQueue
    let queue = DispatchQueue(label: "colony.eventlog")
    private let pending = Mutex<Pending>(Pending())

    package typealias Done = @Sendable (Result<[LogEntry], any Error>) -> Void

    /// Work submitted and not yet run, in order.
    enum Job {
        case append([LogRecord], done: Done)
        case perform(@Sendable () -> Void)
    }

    struct Pending {
        var jobs: [Job] = []
        var records = 0
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

    /// Entries submitted and not yet committed.
    public var backlog: Int { pending.withLock { $0.records } }

    /// Append `records` in order; `done` runs on the log's queue after they are durable
    /// (or failed), with their offsets.
    public func append(_ records: [LogRecord], done: @escaping Done) {
        guard !records.isEmpty else {
            done(.success([]))
            return
        }
        submit(.append(records, done: done), records: records.count)
    }

    public func append(_ records: [LogRecord]) async throws -> [LogEntry] {
        try await withCheckedThrowingContinuation { c in
            append(records) { c.resume(with: $0) }
        }
    }

    /// Run `work` on the log's queue once everything submitted before it is committed: the
    /// store's other writes (incarnation, peers, coordinate) keep their order with the log's.
    public func perform(_ work: @escaping @Sendable () -> Void) {
        submit(.perform(work), records: 0)
    }

    /// Returns once everything submitted before the call is committed (or failed).
    public func drain() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in perform { c.resume() } }
    }

    private func submit(_ job: Job, records: Int) {
        let schedule = pending.withLock { p -> Bool in
            p.jobs.append(job)
            p.records += records
            if p.scheduled { return false }
            p.scheduled = true
            return true
        }
        if schedule { queue.async { self.run() } }
    }

    /// Run the jobs waiting: consecutive appends in one transaction, other work in between.
    private func run() {
        let jobs = pending.withLock { p -> [Job] in
            let j = p.jobs
            p.jobs = []
            p.scheduled = false
            return j
        }
        var appends: [([LogRecord], Done)] = []
        for job in jobs {
            switch job {
            case .append(let records, let done):
                appends.append((records, done))
            case .perform(let work):
                commit(appends)
                appends = []
                work()
            }
        }
        commit(appends)
    }

    private func commit(_ appends: [([LogRecord], Done)]) {
        guard !appends.isEmpty else { return }
        let records = appends.flatMap(\.0)
        let result = Result { () throws -> [LogEntry] in
            try db.write { db -> [LogEntry] in
                var out: [LogEntry] = []
                out.reserveCapacity(records.count)
                for r in records {
                    try db.execute(
                        sql: "INSERT INTO event_log (at_ms, kind, subject, data, info) VALUES (?, ?, ?, ?, ?)",
                        arguments: [r.atMs, r.kind.rawValue, r.subject, Data(r.data), r.info])
                    out.append(LogEntry(offset: db.lastInsertedRowID, record: r))
                }
                return out
            }
        }
        pending.withLock { $0.records -= records.count }
        var start = 0
        for (batch, done) in appends {
            switch result {
            case .success(let entries): done(.success(Array(entries[start..<(start + batch.count)])))
            case .failure(let e): done(.failure(e))
            }
            start += batch.count
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
    /// log order, and its most recent user events. A row whose data does not decode as what
    /// its kind says (a torn or corrupted write) does not stop start-up: it is moved to
    /// `event_log_quarantine` with the reason, and its offset reported.
    public func loadState(recentEvents: Int) throws -> RestoredLog {
        try db.write { db in
            var restored = RestoredLog()
            var bad: [(offset: Int64, reason: String)] = []
            let rows = try Row.fetchCursor(
                db, sql: "SELECT offset, data FROM event_log WHERE kind IN ('key', 'covered') ORDER BY offset")
            while let row = try rows.next() {
                switch Self.update(row[1]) {
                case .success(.record(let r)): restored.records.append(r)
                case .success: bad.append((row[0], "not a state record"))
                case .failure(let why): bad.append((row[0], why.text))
                }
            }
            let eventRows = try Row.fetchAll(
                db, sql: "SELECT offset, data FROM event_log WHERE kind = 'event' ORDER BY offset DESC LIMIT ?",
                arguments: [recentEvents])
            for row in eventRows.reversed() {
                switch Self.update(row[1]) {
                case .success(.event(let e)): restored.events.append(e)
                case .success: bad.append((row[0], "not a user event"))
                case .failure(let why): bad.append((row[0], why.text))
                }
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for (offset, reason) in bad.sorted(by: { $0.offset < $1.offset }) {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO event_log_quarantine
                            (offset, at_ms, kind, subject, data, info, reason, quarantined_ms)
                        SELECT offset, at_ms, kind, subject, data, info, ?, ? FROM event_log WHERE offset = ?
                        """, arguments: [reason, now, offset])
                try db.execute(sql: "DELETE FROM event_log WHERE offset = ?", arguments: [offset])
                restored.quarantined.append(offset)
            }
            return restored
        }
    }

    /// The rows moved aside at start, oldest first.
    public func quarantined() throws -> [QuarantinedRow] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT offset, reason FROM event_log_quarantine ORDER BY offset").map {
                QuarantinedRow(offset: $0["offset"], reason: String.fromDatabaseValue($0["reason"]) ?? "")
            }
        }
    }

    /// Why a row's data is no update.
    struct Unreadable: Error {
        var text: String
    }

    /// A row's data as an update.
    static func update(_ value: DatabaseValue) -> Result<Update, Unreadable> {
        guard let data = Data.fromDatabaseValue(value) else { return .failure(Unreadable(text: "data is not a blob")) }
        do {
            return .success(try Wire.decodeUpdate(data))
        } catch {
            return .failure(Unreadable(text: "\(error)"))
        }
    }

    /// A row as an entry, whatever its columns hold (a damaged row reads as empty fields
    /// rather than trapping a reader).
    static func entry(_ row: Row) -> LogEntry {
        let data = Data.fromDatabaseValue(row["data"]) ?? Data()
        let kind = String.fromDatabaseValue(row["kind"]).flatMap(LogKind.init(rawValue:)) ?? .member
        return LogEntry(
            offset: row["offset"],
            record: LogRecord(
                kind: kind, subject: String.fromDatabaseValue(row["subject"]) ?? "", data: [UInt8](data),
                info: String.fromDatabaseValue(row["info"]) ?? "{}", atMs: Int64.fromDatabaseValue(row["at_ms"]) ?? 0))
    }
}

/// What `EventLog.loadState` rebuilds the replicated state from.
public struct RestoredLog: Sendable, Equatable {
    public var records: [StateRecord] = []
    public var events: [UserEvent] = []
    /// Offsets of the rows that could not be read, moved to `event_log_quarantine`.
    public var quarantined: [Int64] = []
}

/// A row moved aside at start: its offset and why.
public struct QuarantinedRow: Sendable, Equatable {
    public var offset: Int64
    public var reason: String
}
