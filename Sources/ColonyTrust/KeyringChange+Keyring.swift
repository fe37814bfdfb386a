import ColonyCore
import Crypto
import Foundation

/// What ColonyTrust adds to the core's keyring change (`KeyringChangeMachine`): applying an
/// operation to a `Keyring`, and the JSON the internal query carries (the request and the
/// answers), with base64 keys.
extension Keyring {
    /// `ring` after `op` (nil: this node has no keyring). Installing a key on a node without
    /// one starts a keyring in mode `open`: it starts reading sealed packets but keeps sending
    /// plain ones until told to seal (`mode accept`). Throws what the keyring refuses.
    public static func applying(_ op: KeyringOperation, to ring: Keyring?) throws -> Keyring? {
        var ring = ring
        switch op {
        case .list:
            return ring
        case .install(let key):
            guard var r = ring else { return try Keyring(primary: key, mode: .open) }
            try r.install(key)
            ring = r
        case .use(let key):
            guard var r = ring else { throw KeyringError.noKeyring }
            try r.use(key)
            ring = r
        case .remove(let key):
            guard var r = ring else { throw KeyringError.noKeyring }
            try r.remove(key)
            ring = r
        case .mode(let mode):
            guard var r = ring else { throw KeyringError.noKeyring }
            r.mode = mode
            ring = r
        }
        return ring
    }
}

extension KeyringError {
    /// The core's refusal to start a swarm-wide change, as the keyring's error.
    package init(_ refusal: KeyringChangeRefusal) {
        switch refusal {
        case .noKeyring: self = .noKeyring
        case .notSealing: self = .notSealing
        }
    }
}

extension KeyringOperation {
    struct Wire: Codable {
        var op: String
        var key: String?
        var mode: String?
        /// The operator's order (where operators are required): key and signature base64.
        var orderKey: String?
        var orderSignature: String?
        var orderAtMs: UInt64?
    }

    /// An operation named as the HTTP API and the CLI name it; `key` is base64.
    public init(op: String, key: String?, mode: String?) throws {
        switch op {
        case "list": self = .list
        case "install", "use", "remove":
            guard let key else { throw KeyringError.unreadable("'\(op)' needs a key") }
            let bytes = try Keyring.decode(key)
            self = op == "install" ? .install(bytes) : op == "use" ? .use(bytes) : .remove(bytes)
        case "mode":
            guard let mode, let m = Keyring.Mode(rawValue: mode) else {
                throw KeyringError.unreadable(
                    "mode must be one of \(Keyring.Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = .mode(m)
        default:
            throw KeyringError.unreadable("unknown keyring operation '\(op)' (list, install, use, remove, mode)")
        }
    }

    /// The operation carried by the internal query's payload.
    public init(payload: [UInt8]) throws {
        self = try Self.request(payload: payload).operation
    }

    /// The operation and the operator's order (if any) carried by the query's payload.
    public static func request(payload: [UInt8]) throws -> (operation: KeyringOperation, order: KeyringOrder?) {
        let w: Wire
        do { w = try JSONDecoder().decode(Wire.self, from: Data(payload)) } catch {
            throw KeyringError.unreadable("bad keyring request")
        }
        let op = try KeyringOperation(op: w.op, key: w.key, mode: w.mode)
        guard let k = w.orderKey, let s = w.orderSignature, let at = w.orderAtMs else { return (op, nil) }
        guard let key = Data(base64Encoded: k), let sig = Data(base64Encoded: s) else {
            throw KeyringError.unreadable("bad operator order")
        }
        return (op, KeyringOrder(signature: Signature(publicKey: Array(key), bytes: Array(sig)), issuedAtMs: at))
    }

    /// The internal query's payload (with the operator's order, where there is one).
    public func payload(order: KeyringOrder? = nil) -> [UInt8] {
        var w: Wire
        switch self {
        case .list: w = Wire(op: "list")
        case .install(let k): w = Wire(op: "install", key: Data(k).base64EncodedString())
        case .use(let k): w = Wire(op: "use", key: Data(k).base64EncodedString())
        case .remove(let k): w = Wire(op: "remove", key: Data(k).base64EncodedString())
        case .mode(let m): w = Wire(op: "mode", mode: m.rawValue)
        }
        if let order {
            w.orderKey = Data(order.signature.publicKey).base64EncodedString()
            w.orderSignature = Data(order.signature.bytes).base64EncodedString()
            w.orderAtMs = order.issuedAtMs
        }
        return Array((try? JSONEncoder().encode(w)) ?? Data())
    }

    /// The internal query's payload without an order.
    public var payload: [UInt8] { payload(order: nil) }
}

extension KeyringState {
    /// `keyring` as reported: keys base64, primary first; mode "off" without one.
    public init(keyring: Keyring?) {
        self.init(keys: keyring?.encodedKeys ?? [], mode: keyring?.mode.rawValue ?? "off")
    }

    /// A key's public name: "sha256:" and the first 8 bytes of its SHA-256, hex.
    public static func fingerprint(_ base64: String) -> String {
        guard let key = try? Keyring.decode(base64) else { return base64 }
        return "sha256:" + SHA256.hash(data: key).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

extension KeyringAnswer {
    /// An answer as it travels (JSON).
    public func encoded() -> [UInt8] { Array((try? JSONEncoder().encode(self)) ?? Data()) }

    /// An answer read from a query response's payload; nil if it is not one.
    public init?(payload: [UInt8]) {
        guard let a = try? JSONDecoder().decode(KeyringAnswer.self, from: Data(payload)) else { return nil }
        self = a
    }
}
