import ColonyCore
import ColonyTrust
import Crypto
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public enum StoreError: Error, CustomStringConvertible, Equatable {
    case cannotCreateDirectory(String, reason: String)
    case notADirectory(String)
    case corruptIdentity(String)
    /// The database was written by a newer build: its schema version, and this build's.
    case newerSchema(path: String, found: Int, supported: Int)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let p, let r): "cannot create data directory \(p): \(r)"
        case .notADirectory(let p): "data directory \(p) exists and is not a directory"
        case .corruptIdentity(let why): "the stored node identity is unusable: \(why)"
        case .newerSchema(let p, let found, let supported):
            "\(p) has schema version \(found), newer than this build supports (\(supported)): "
                + "run the newer colony, or give this one another data directory"
        }
    }
}

/// A peer this node knew, kept so a restarted node can rejoin without seeds.
package struct KnownPeer: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "known_peer"
    public var id: String
    public var name: String
    public var host: String
    public var port: Int
    public var lastSeenMs: Int64

    public init(id: NodeID, name: String, address: Address, lastSeenMs: Int64) {
        self.id = id.description
        self.name = name
        self.host = address.host
        self.port = Int(address.port)
        self.lastSeenMs = lastSeenMs
    }

    public var address: Address { Address(host: host, port: UInt16(clamping: port)) }
}

/// The node's data directory: `colony.sqlite` (WAL, synchronous FULL) holding its identity
/// (the private key: the file and its WAL are the owner's only), its incarnation and the peers
/// it last knew. Schema changes go through migrations; the schema version is kept in
/// `PRAGMA user_version`, and a database from a newer build is refused, not opened.
package final class NodeStore: Sendable {
    public let directory: String
    let db: DatabaseQueue
    /// Files of the database that others than the owner could read, made owner-only at open,
    /// with the mode each had (for the caller to report).
    public let madePrivate: [(file: String, mode: UInt32)]

    /// The schema version this build writes: one per migration.
    public static var schemaVersion: Int { migrator.migrations.count }

    public init(directory: String) throws {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StoreError.notADirectory(directory) }
        } else {
            do {
                try fm.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError.cannotCreateDirectory(directory, reason: "\(error.localizedDescription)")
            }
        }
        self.directory = directory
        let path = (directory as NSString).appendingPathComponent("colony.sqlite")
        madePrivate = try Self.makeDatabasePrivate(path)
        var config = Configuration()
        // Another handle on the same file (a node restarted in the same process while the
        // old one's last log write finishes) waits its turn instead of failing at once.
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        db = try DatabaseQueue(path: path, configuration: config)
        try Self.refuseNewerSchema(db, path: path)
        try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
        try Self.migrator.migrate(db)
        try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = \(Self.schemaVersion)") }
    }

    /// The database file holds the node's private key: created owner-only (SQLite gives its
    /// WAL and shared-memory files the database's mode), and an existing one that others could
    /// read is made owner-only — fixed rather than refused, so a node upgraded from a build
    /// that left it to the umask keeps its identity; the caller logs it.
    static func makeDatabasePrivate(_ path: String) throws -> [(file: String, mode: UInt32)] {
        if DurableFile.mode(of: path) == nil {
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, DurableFile.secret)
            if fd >= 0 {
                fchmod(fd, DurableFile.secret)
                close(fd)
                try DurableFile.syncDirectory(of: path)
            }
        }
        var fixed: [(file: String, mode: UInt32)] = []
        for file in [path, path + "-wal", path + "-shm", path + "-journal"] {
            if let old = try DurableFile.makePrivate(file) { fixed.append((file, UInt32(old))) }
        }
        return fixed
    }

    /// A database some newer build migrated (its `user_version`, or migrations this build does
    /// not know) is refused before anything is written to it.
    static func refuseNewerSchema(_ db: DatabaseQueue, path: String) throws {
        let (version, superseded, applied) = try db.read { db in
            (
                try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0, try migrator.hasBeenSuperseded(db),
                try migrator.appliedIdentifiers(db).count
            )
        }
        if version > schemaVersion || superseded {
            throw StoreError.newerSchema(path: path, found: max(version, applied), supported: schemaVersion)
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: identity, incarnation, known peers") { db in
            try db.create(table: "identity") { t in
                t.column("singleton", .integer).primaryKey(onConflict: .replace).check { $0 == 1 }
                t.column("private_key", .blob).notNull()
                t.column("created_ms", .integer).notNull()
            }
            try db.create(table: "incarnation") { t in
                t.column("singleton", .integer).primaryKey(onConflict: .replace).check { $0 == 1 }
                t.column("value", .integer).notNull()
            }
            try db.create(table: "known_peer") { t in
                t.column("id", .text).primaryKey()
                t.column("name", .text).notNull()
                t.column("host", .text).notNull()
                t.column("port", .integer).notNull()
                t.column("lastSeenMs", .integer).notNull()
            }
        }
        m.registerMigration("v2: event log") { db in
            try db.create(table: "event_log") { t in
                t.column("offset", .integer).primaryKey(autoincrement: true)
                t.column("at_ms", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("subject", .text).notNull()
                t.column("data", .blob).notNull()
                t.column("info", .text).notNull()
            }
            try db.create(index: "event_log_kind", on: "event_log", columns: ["kind", "offset"])
        }
        m.registerMigration("v3: network coordinate") { db in
            try db.create(table: "coordinate") { t in
                t.column("singleton", .integer).primaryKey().check { $0 == 1 }
                t.column("value", .blob).notNull()
            }
        }
        m.registerMigration("v4: event log quarantine") { db in
            // Rows that could not be read at start, moved aside as they were (any types).
            try db.create(table: "event_log_quarantine") { t in
                t.column("offset", .integer).primaryKey()
                t.column("at_ms")
                t.column("kind")
                t.column("subject")
                t.column("data")
                t.column("info")
                t.column("reason", .text).notNull()
                t.column("quarantined_ms", .integer).notNull()
            }
        }
        return m
    }

    /// Schema versions applied, oldest first.
    public func appliedMigrations() throws -> [String] {
        try db.read { try Self.migrator.appliedMigrations($0) }
    }

    /// The identity created on first start, the same one ever after.
    public func identity() throws -> NodeIdentity {
        try db.write { db in
            if let blob = try Data.fetchOne(db, sql: "SELECT private_key FROM identity WHERE singleton = 1") {
                do {
                    return NodeIdentity(privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: blob))
                } catch {
                    throw StoreError.corruptIdentity("\(error)")
                }
            }
            let fresh = NodeIdentity.generate()
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try db.execute(
                sql: "INSERT INTO identity (singleton, private_key, created_ms) VALUES (1, ?, ?)",
                arguments: [fresh.privateKey.rawRepresentation, now])
            return fresh
        }
    }

    /// The incarnation to start with: strictly above every incarnation this identity ever
    /// used, made durable before it is returned (so `kill -9` cannot make it go back).
    public func nextIncarnation() throws -> UInt64 {
        try db.write { db in
            let last = try Int64.fetchOne(db, sql: "SELECT value FROM incarnation WHERE singleton = 1") ?? 0
            let next = last + 1
            try db.execute(sql: "INSERT INTO incarnation (singleton, value) VALUES (1, ?)", arguments: [next])
            return UInt64(next)
        }
    }

    /// Record an incarnation the node moved to (a refutation); never lowers the stored one.
    public func record(incarnation: UInt64) throws {
        try db.write { db in
            let value = Int64(clamping: incarnation)
            try db.execute(
                sql: """
                    INSERT INTO incarnation (singleton, value) VALUES (1, ?)
                    ON CONFLICT(singleton) DO UPDATE SET value = max(value, excluded.value)
                    """, arguments: [value])
        }
    }

    public func storedIncarnation() throws -> UInt64 {
        try db.read { UInt64(try Int64.fetchOne($0, sql: "SELECT value FROM incarnation WHERE singleton = 1") ?? 0) }
    }

    /// This node's Vivaldi coordinate, kept so a restart resumes from its place.
    public func save(coordinate: Coordinate) throws {
        var bytes: [UInt8] = []
        for v in coordinate.vec + [coordinate.error, coordinate.adjustment, coordinate.height] {
            withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
        }
        try db.write { db in
            try db.execute(
                sql:
                    "INSERT INTO coordinate (singleton, value) VALUES (1, ?) "
                    + "ON CONFLICT(singleton) DO UPDATE SET value = excluded.value",
                arguments: [Data(bytes)])
        }
    }

    /// The saved coordinate, if any (nil if absent or unreadable).
    public func storedCoordinate() throws -> Coordinate? {
        guard
            let data = try db.read({ try Data.fetchOne($0, sql: "SELECT value FROM coordinate WHERE singleton = 1") }),
            data.count == 8 * (Coordinate.dimensions + 3)
        else { return nil }
        let values = (0..<(Coordinate.dimensions + 3)).map { i -> Double in
            var bits: UInt64 = 0
            for k in 0..<8 { bits |= UInt64(data[data.startIndex + i * 8 + k]) << (8 * UInt64(k)) }
            return Double(bitPattern: bits)
        }
        let c = Coordinate(
            vec: Array(values[0..<Coordinate.dimensions]), error: values[8], adjustment: values[9], height: values[10])
        return c.isValid ? c : nil
    }

    /// Replace the remembered peers with these.
    public func saveKnownPeers(_ peers: [KnownPeer]) throws {
        try db.write { db in
            try KnownPeer.deleteAll(db)
            for p in peers { try p.insert(db) }
        }
    }

    /// Remembered peers, most recently seen first.
    public func knownPeers(limit: Int = 64) throws -> [KnownPeer] {
        try db.read { try KnownPeer.order(Column("lastSeenMs").desc).limit(limit).fetchAll($0) }
    }
}
