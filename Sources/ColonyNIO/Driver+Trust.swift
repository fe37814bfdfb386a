import ColonyCore
import ColonyTrust
import Crypto
import Foundation
import Logging
import Metrics
import NIOCore

/// Sealing and opening packets with the keyring, and keyring changes (docs/design.md §6).
extension Driver {
    /// Load the keyring at start: the one saved in the data directory wins (it holds the
    /// rotations this node took part in); a configured key missing from it is installed.
    func loadKeyring() throws -> Keyring? {
        var ring = configuration.keyring
        if let dir = configuration.dataDirectory {
            if var saved = try Keyring.load(directory: dir) {
                if let configured = configuration.keyring, !saved.keys.contains(configured.primary) {
                    try saved.install(configured.primary)
                    logger.info(
                        "the keyring in the data directory wins; the configured key was installed as a secondary key")
                }
                ring = saved
            }
            if let ring { try ring.save(directory: dir) }
        }
        return ring
    }

    /// Seal an outgoing packet if the keyring says so.
    func sealIfNeeded(_ bytes: [UInt8]) -> [UInt8] {
        guard let keyring, keyring.mode.seals else { return bytes }
        return Envelope.seal(bytes, key: keyring.primary, sentAtMs: UInt64(max(0, wallNow())))
    }

    /// The plain bytes of an incoming packet, or nil (counted) if the keyring refuses it.
    func openIfNeeded(_ bytes: [UInt8], from address: Address) -> [UInt8]? {
        if Envelope.isSealed(bytes) {
            guard let keyring else { return refuse("unsealable", from: address) }
            do {
                let opened = try Envelope.open(bytes, keys: keyring.keys)
                try replay.admit(sentAtMs: opened.sentAtMs, nonce: opened.nonce, nowMs: UInt64(max(0, wallNow())))
                return opened.plain
            } catch {
                return refuse(error.reason, from: address)
            }
        }
        if let keyring, !keyring.mode.acceptsPlain { return refuse("plain", from: address) }
        return bytes
    }

    private func refuse(_ reason: String, from address: Address) -> [UInt8]? {
        counters.refused[reason, default: 0] += 1
        if var core {
            let effects = core.rejected(from: address, now: now())
            self.core = core
            handle(effects)
        }
        metricRefused.increment()
        if refusalWarned.insert(address).inserted {
            logger.warning(
                "refusing packets this node cannot open (wrong or missing encryption key?)",
                metadata: ["colony.peer": "\(address)", "colony.reason": "\(reason)"])
        }
        return nil
    }

    // MARK: Keyring recovery (a certified node that missed rotations)

    /// Where this node stands in the keyring-recovery exchange.
    var recoveryStanding: KeyringRecoveryMachine.Standing {
        KeyringRecoveryMachine.Standing(
            admission: configuration.settings.trust.authorityKey != nil,
            certified: certificate != nil && identityKey != nil, hasKeyring: keyring != nil)
    }

    /// No seed answered: if this node is certified, it may hold stale keys. The recovery
    /// machine decides whether to ask the seeds for the keyring now.
    func requestKeyringIfLockedOut() {
        guard let core else { return }
        recover(.joinFailed(seeds: core.joinSeeds), frame: [])
    }

    func onRecoveryFrame(_ bytes: [UInt8], namespace: WireNamespace, from address: Address) {
        recover(.frame(namespace, from: address), frame: bytes)
    }

    /// Run the recovery machine on `input` and perform what it decides: the cryptography is
    /// `KeyringRecovery`'s, the sending and the keyring file this driver's.
    func recover(_ input: KeyringRecoveryMachine.Input, frame bytes: [UInt8]) {
        for action in recovery.handle(input, standing: recoveryStanding, now: now()) {
            switch action {
            case .sendRequest(let seeds): sendKeyringRequest(to: seeds)
            case .answerRequest(let address): answerKeyringRequest(bytes, from: address)
            case .openAnswer(let address): openKeyringAnswer(bytes, from: address)
            case .rejoin(let seeds):
                // Rejoin at once rather than at the next retry.
                guard var core else { break }
                let effects = core.join(seeds: seeds, now: now())
                self.core = core
                handle(effects)
            }
        }
    }

    private var isRevoked: (NodeID) -> Bool { { [core] id in core?.revoked.contains(id) ?? false } }

    private func sendKeyringRequest(to seeds: [Address]) {
        guard let certificate, let identityKey else { return }
        let (bytes, pending) = KeyringRecovery.request(
            certificate: certificate, signer: identityKey, atMs: UInt64(max(0, wallNow())))
        recoveryPending = pending
        for seed in seeds { sendFrame(bytes, to: seed) }
        logger.info(
            "no seed answered: asking for the current keyring with this node's certificate",
            metadata: ["colony.seeds": "\(seeds.count)"])
    }

    private func answerKeyringRequest(_ bytes: [UInt8], from address: Address) {
        guard let authority = configuration.settings.trust.authorityKey, let keyring, let certificate, let identityKey
        else { return }
        do {
            let answer = try KeyringRecovery.answer(
                bytes, keyring: keyring, authority: authority, certificate: certificate, signer: identityKey,
                nowMs: UInt64(max(0, wallNow())), windowMs: replay.windowMs, isRevoked: isRevoked)
            counters.keyringsHandedOut += 1
            sendFrame(answer, to: address)
            logger.info("handed the keyring to a certified node that asked", metadata: ["colony.peer": "\(address)"])
        } catch {
            counters.refused["keyring_request", default: 0] += 1
            logger.warning(
                "refused a keyring request", metadata: ["colony.peer": "\(address)", "colony.error": "\(error)"])
        }
    }

    private func openKeyringAnswer(_ bytes: [UInt8], from address: Address) {
        guard let authority = configuration.settings.trust.authorityKey, let pending = recoveryPending else { return }
        do {
            let fresh = try KeyringRecovery.open(
                bytes, pending: pending, authority: authority, nowMs: UInt64(max(0, wallNow())), isRevoked: isRevoked)
            recoveryPending = nil
            var ring = keyring ?? fresh
            for k in fresh.keys.reversed() { try ring.install(k) }
            try ring.use(fresh.primary)
            ring.mode = fresh.mode
            if let dir = configuration.dataDirectory { try ring.save(directory: dir) }
            keyring = ring
            counters.keyringsRecovered += 1
            logger.info(
                "keyring recovered from a certified member; rejoining", metadata: ["colony.keys": "\(ring.keys.count)"])
            recover(.answerOpened(seeds: core?.joinSeeds ?? []), frame: [])
        } catch {
            counters.refused["keyring_answer", default: 0] += 1
            logger.warning(
                "refused a keyring answer", metadata: ["colony.peer": "\(address)", "colony.error": "\(error)"])
        }
    }

    // MARK: Keyring changes (on the loop)

    func applyKeyring(_ op: KeyringOperation) throws -> KeyringState {
        var ring = keyring
        switch op {
        case .list:
            break
        case .install(let key):
            if ring == nil {
                // A plain node learns its first key: it starts reading sealed packets but keeps
                // sending plain ones until told to seal (`mode accept`).
                ring = try Keyring(primary: key, mode: .open)
            } else {
                try ring!.install(key)
            }
        case .use(let key):
            guard ring != nil else { throw KeyringError.noKeyring }
            try ring!.use(key)
        case .remove(let key):
            guard ring != nil else { throw KeyringError.noKeyring }
            try ring!.remove(key)
        case .mode(let mode):
            guard ring != nil else { throw KeyringError.noKeyring }
            ring!.mode = mode
        }
        if ring != keyring {
            if let dir = configuration.dataDirectory, let ring { try ring.save(directory: dir) }
            keyring = ring
            logger.info(
                "keyring changed",
                metadata: ["colony.keys": "\(ring?.keys.count ?? 0)", "colony.mode": "\(ring?.mode.rawValue ?? "off")"])
        }
        return KeyringState(keyring: keyring)
    }

    /// The internal query that carries keyring changes across the swarm: applied here,
    /// answered with the result (Serf's `_serf_install-key` and friends).
    func answerKeyringQuery(_ q: Query) {
        var answer: KeyringAnswer
        do {
            let op = try KeyringOperation(payload: q.payload)
            answer = KeyringAnswer(state: try applyKeyring(op), error: nil)
        } catch {
            answer = KeyringAnswer(state: KeyringState(keyring: keyring), error: "\(error)")
        }
        // A node that does not seal answers in the clear: it names its keys by fingerprint.
        if keyring?.mode.seals != true { answer.state.keys = answer.state.keys.map(KeyringState.fingerprint) }
        respond(to: q, payload: answer.encoded())
    }
}

/// A keyring change, as the HTTP API, the CLI and the internal query name it.
public enum KeyringOperation: Sendable, Equatable {
    case list
    case install([UInt8])
    case use([UInt8])
    case remove([UInt8])
    case mode(Keyring.Mode)

    /// The internal query that carries it (named in the core: `ColonyQuery.keyring`).
    public static let queryName = ColonyQuery.keyring.rawValue

    /// Whether the request or its answers carry keys (refused unless this node seals).
    public var carriesKeys: Bool {
        if case .mode = self { return false }
        return true
    }

    struct Wire: Codable {
        var op: String
        var key: String?
        var mode: String?
    }

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

    init(payload: [UInt8]) throws {
        let w: Wire
        do { w = try JSONDecoder().decode(Wire.self, from: Data(payload)) } catch {
            throw KeyringError.unreadable("bad keyring request")
        }
        try self.init(op: w.op, key: w.key, mode: w.mode)
    }

    var payload: [UInt8] {
        let w: Wire
        switch self {
        case .list: w = Wire(op: "list")
        case .install(let k): w = Wire(op: "install", key: Data(k).base64EncodedString())
        case .use(let k): w = Wire(op: "use", key: Data(k).base64EncodedString())
        case .remove(let k): w = Wire(op: "remove", key: Data(k).base64EncodedString())
        case .mode(let m): w = Wire(op: "mode", mode: m.rawValue)
        }
        return Array((try? JSONEncoder().encode(w)) ?? Data())
    }
}

/// One node's keyring, as reported.
public struct KeyringState: Sendable, Equatable, Codable {
    /// Installed keys (base64), primary first; empty when encryption is off.
    public var keys: [String]
    /// off, open, accept or require.
    public var mode: String

    public init(keyring: Keyring?) {
        keys = keyring?.encodedKeys ?? []
        mode = keyring?.mode.rawValue ?? "off"
    }

    public var primary: String? { keys.first }

    /// A key's public name: "sha256:" and the first 8 bytes of its SHA-256, hex.
    public static func fingerprint(_ base64: String) -> String {
        guard let key = try? Keyring.decode(base64) else { return base64 }
        return "sha256:" + SHA256.hash(data: key).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

struct KeyringAnswer: Codable {
    var state: KeyringState
    var error: String?

    func encoded() -> [UInt8] { Array((try? JSONEncoder().encode(self)) ?? Data()) }
}

/// A keyring change across the swarm: who answered and what their keyrings hold now (Serf's
/// `serf keys` output).
public struct KeyringSummary: Sendable, Equatable, Codable {
    /// Live members when the request went out.
    public var nodes: Int
    /// Members that answered before the deadline.
    public var responses: Int
    /// Error messages by member name.
    public var errors: [String: String]
    /// How many answering members hold each key.
    public var keys: [String: Int]
    /// How many answering members use each key as primary.
    public var primaryKeys: [String: Int]
    /// How many answering members are in each mode.
    public var modes: [String: Int]

    /// True if every live member answered without error.
    public var complete: Bool { responses >= nodes && errors.isEmpty }
}
