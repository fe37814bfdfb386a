import ColonyCore
import Crypto
import Foundation

/// The swarm's shared keys (docs/design.md §6, confidentiality). Every packet is sealed under the
/// primary key; any installed key opens. Rotation follows Serf's keyring: install the new key
/// everywhere, make it primary everywhere, then remove the old one — at every step each node
/// can open what every other node sends, so no message is lost.
public struct Keyring: Sendable, Equatable {
    /// How a node treats encryption: open, accept or require (`KeyringMode`, in the core).
    public typealias Mode = KeyringMode

    /// AES-256: keys are 32 bytes, written as base64 (`colony keygen`).
    public static let keyBytes = 32

    /// Installed keys, primary first.
    public private(set) var keys: [[UInt8]]
    public var mode: Mode

    /// A keyring holding one key, primary.
    public init(primary: [UInt8], mode: Mode = .require) throws {
        try Self.check(primary)
        keys = [primary]
        self.mode = mode
    }

    public init(primaryBase64: String, mode: Mode = .require) throws {
        try self.init(primary: Self.decode(primaryBase64), mode: mode)
    }

    public var primary: [UInt8] { keys[0] }

    /// Keys as base64, primary first.
    public var encodedKeys: [String] { keys.map { Data($0).base64EncodedString() } }

    /// Add a key (a no-op if it is installed already). It opens packets at once; it seals
    /// only once `use`d.
    public mutating func install(_ key: [UInt8]) throws {
        try Self.check(key)
        if !keys.contains(key) { keys.append(key) }
    }

    /// Make an installed key the primary.
    public mutating func use(_ key: [UInt8]) throws {
        guard let i = keys.firstIndex(of: key) else { throw KeyringError.notInstalled }
        keys.insert(keys.remove(at: i), at: 0)
    }

    /// Remove a key (a no-op if absent). The primary cannot be removed: `use` another first.
    public mutating func remove(_ key: [UInt8]) throws {
        guard key != keys[0] else { throw KeyringError.removingPrimary }
        keys.removeAll { $0 == key }
    }

    /// A fresh random key as base64 (`colony keygen`).
    public static func generateKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// Parse a base64 key, with a clear error for anything that is not 32 bytes of base64.
    public static func decode(_ base64: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw KeyringError.notBase64
        }
        let key = [UInt8](data)
        try check(key)
        return key
    }

    static func check(_ key: [UInt8]) throws {
        guard key.count == keyBytes else { throw KeyringError.wrongLength(key.count) }
    }

    // MARK: Persistence (`keyring.json` in the data directory, owner-only)

    struct File: Codable {
        var keys: [String]
        var mode: Mode
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(File(keys: encodedKeys, mode: mode))) ?? Data()
    }

    public init(json: Data) throws {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: json)
        } catch {
            throw KeyringError.unreadable("\(error)")
        }
        guard let first = file.keys.first else { throw KeyringError.unreadable("no keys") }
        try self.init(primaryBase64: first, mode: file.mode)
        for k in file.keys.dropFirst() { try install(Self.decode(k)) }
    }

    public static func fileURL(directory: String) -> URL {
        URL(fileURLWithPath: directory).appendingPathComponent("keyring.json")
    }

    /// The keyring saved in `directory`, if any.
    public static func load(directory: String) throws -> Keyring? {
        let url = fileURL(directory: directory)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try Keyring(json: Data(contentsOf: url))
    }

    /// If the saved keyring is readable by others than its owner, make it owner-only and
    /// return the mode it had (nil if it was private or absent): the caller says so.
    package static func makePrivate(directory: String) throws -> mode_t? {
        try DurableFile.makePrivate(fileURL(directory: directory).path)
    }

    /// Save atomically and durably (temporary file, fsync, rename, fsync of the directory),
    /// readable by the owner only.
    public func save(directory: String) throws {
        let url = Self.fileURL(directory: directory)
        do {
            try DurableFile.write(encoded(), to: url.path, mode: DurableFile.secret)
        } catch {
            throw KeyringError.unwritable("\(error)")
        }
    }
}

public enum KeyringError: Error, Equatable, CustomStringConvertible {
    case notBase64
    case wrongLength(Int)
    case notInstalled
    case removingPrimary
    case noKeyring
    case notSealing
    case unreadable(String)
    case unwritable(String)

    public var description: String {
        switch self {
        case .notBase64: "the key is not valid base64 (make one with `colony keygen`)"
        case .wrongLength(let n):
            "the key is \(n) bytes; AES-256 keys are \(Keyring.keyBytes) bytes (make one with `colony keygen`)"
        case .notInstalled: "the key is not installed: install it first"
        case .removingPrimary: "the primary key cannot be removed: use another key first"
        case .noKeyring:
            "encryption is not enabled on this node (start it with --encrypt, or install a key with scope=local)"
        case .notSealing:
            "this node does not seal its packets yet (mode open): keys would travel in the clear; "
                + "step to mode accept first"
        case .unreadable(let why): "the keyring file cannot be read: \(why)"
        case .unwritable(let why): "the keyring file cannot be saved: \(why)"
        }
    }
}
