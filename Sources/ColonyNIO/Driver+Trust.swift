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
            if let mode = try Keyring.makePrivate(directory: dir) {
                logger.warning(
                    "keyring.json was readable by others: made owner-only (0600)",
                    metadata: ["colony.mode": "\(String(mode, radix: 8))"])
            }
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
            saveKeyring(ring).whenFailure { [self] error in
                logger.error("could not save the recovered keyring", metadata: ["colony.error": "\(error)"])
            }
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

    // MARK: Keyring changes (on the loop; decided by the core's KeyringChangeMachine)

    /// Apply `op` to this node's keyring and report it; if it changed, it is saved off the
    /// loop and `saved` completes once the file is durable (or fails saying why).
    func applyKeyring(_ op: KeyringOperation) throws -> (state: KeyringState, saved: EventLoopFuture<Void>) {
        let ring = try Keyring.applying(op, to: keyring)
        guard ring != keyring else { return (KeyringState(keyring: keyring), loop.makeSucceededVoidFuture()) }
        keyring = ring
        logger.info(
            "keyring changed",
            metadata: ["colony.keys": "\(ring?.keys.count ?? 0)", "colony.mode": "\(ring?.mode.rawValue ?? "off")"])
        return (KeyringState(keyring: keyring), saveKeyring(ring))
    }

    /// Send `op` to every member on the internal keyring query; the future completes with the
    /// summary when every member live now has answered or `timeout` passed.
    func startKeyringChange(_ op: KeyringOperation, timeout: Duration) throws -> EventLoopFuture<KeyringSummary> {
        guard var core else { throw ColonyError.notStarted }
        if let refusal = KeyringChangeMachine.check(op, mode: keyring?.mode) { throw KeyringError(refusal) }
        let (result, effects) = core.query(ColonyQuery.keyring, payload: op.payload, timeout: timeout, now: now())
        let live = core.table.liveCount
        self.core = core
        let q = try result.get()
        keyringChanges.start(query: q.id.counter, live: live)
        let promise = loop.makePromise(of: KeyringSummary.self)
        keyringWaiters[q.id.counter] = promise
        handle(effects)
        return promise.futureResult
    }

    /// An answer to, or the end of, one of this node's keyring changes.
    func keyringChange(answer r: QueryResponse) {
        guard
            let summary = keyringChanges.record(
                query: r.query.counter, from: r.name, answer: KeyringAnswer(payload: r.payload))
        else { return }
        keyringWaiters.removeValue(forKey: r.query.counter)?.succeed(summary)
    }

    /// The query's deadline passed (or the node stopped): the summary of what answered.
    func keyringChange(finished query: UInt64) {
        guard let summary = keyringChanges.finish(query: query) else { return }
        keyringWaiters.removeValue(forKey: query)?.succeed(summary)
    }

    /// The internal query that carries keyring changes across the swarm: applied here,
    /// answered with the result (Serf's `_serf_install-key` and friends).
    func answerKeyringQuery(_ q: Query) {
        var refusal: String?
        var saved = loop.makeSucceededVoidFuture()
        do { saved = try applyKeyring(KeyringOperation(payload: q.payload)).saved } catch let e { refusal = "\(e)" }
        // Answered once the change is durable here (or saying why it is not).
        saved.whenComplete { [self, refusal] result in
            var error = refusal
            if case .failure(let e) = result { error = "\(e)" }
            let answer = KeyringChangeMachine.answer(
                state: KeyringState(keyring: keyring), error: error, seals: keyring?.mode.seals == true,
                fingerprint: KeyringState.fingerprint)
            respond(to: q, payload: answer.encoded())
        }
    }
}
