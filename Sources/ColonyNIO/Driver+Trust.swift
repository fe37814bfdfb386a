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

    /// `packet` authenticated for `peer` (a MAC if its key is known, else signed).
    func authenticated(_ packet: [UInt8], to peer: Peer) -> [UInt8] {
        guard packetAuthentication != nil else { return packet }
        let key = peer.id.flatMap { core?.publicKey(of: $0) }
        return packetAuthentication!.wrap(packet, to: peer.id, recipientKey: key)
    }

    /// The packet inside `bytes` and who the gate proved sent it, or nil (counted, nobody
    /// blamed: an unverified packet's sender is unknown) if it does not verify.
    func authenticate(_ bytes: [UInt8], from address: Address) -> (ArraySlice<UInt8>, PacketSender)? {
        guard packetAuthentication != nil else { return (bytes[...], .unverified) }
        switch packetAuthentication!.unwrap(bytes, nowMs: now().nanoseconds / 1_000_000) {
        case .success(let verified):
            return (verified.packet, .verified(verified.sender))
        case .failure(let refusal):
            _ = refuse(
                refusal.reason, from: address,
                warning: "refusing packets not authenticated to their sender (an old version, or forged?)")
            return nil
        }
    }

    private func refuse(
        _ reason: String, from address: Address,
        warning: Logger.Message = "refusing packets this node cannot open (wrong or missing encryption key?)"
    ) -> [UInt8]? {
        counters.refused[reason, default: 0] += 1
        metricRefused.increment()
        if var core {
            // Counted; nobody blamed (whoever sent it is unknown).
            let effects = core.rejected(sender: .unverified, from: address, now: now())
            self.core = core
            handle(effects)
        }
        if refusalWarned.insert(address).inserted {
            logger.warning(warning, metadata: ["colony.peer": "\(address)", "colony.reason": "\(reason)"])
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
    func startKeyringChange(
        _ op: KeyringOperation, order: KeyringOrder?, timeout: Duration
    ) throws -> EventLoopFuture<KeyringSummary> {
        guard var core else { throw ColonyError.notStarted }
        if let refusal = KeyringChangeMachine.check(op, mode: keyring?.mode) { throw KeyringError(refusal) }
        // Where operators are required, refuse here what every member would refuse.
        if core.requiresOperator, op.changes,
            let refusal = core.check(op.order(issuedAtMs: order?.issuedAtMs ?? 0), signature: order?.signature)
        {
            throw refusal
        }
        let (result, effects) = core.query(
            ColonyQuery.keyring, payload: op.payload(order: order), timeout: timeout, now: now())
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
        do {
            let (op, order) = try KeyringOperation.request(payload: q.payload)
            if var core, core.requiresOperator, op.changes {
                // Only an operator's order, fresh and not seen before, whoever asks.
                let refused = core.admit(op.order(issuedAtMs: order?.issuedAtMs ?? 0), signature: order?.signature)
                self.core = core
                if let refused { throw refused }
            }
            saved = try applyKeyring(op).saved
        } catch let e {
            refusal = "\(e)"
        }
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
