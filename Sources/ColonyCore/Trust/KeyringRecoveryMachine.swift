/// Keyring recovery decided without I/O, clocks or cryptography (docs/design.md §6): when a
/// certified node that missed key rotations asks its seeds for the current keyring, which
/// frames it answers or opens, and when it rejoins. A driver feeds it what happened and
/// performs what it returns: building, checking, sealing and opening the frames is
/// `KeyringRecovery` in ColonyTrust; sending them is the driver's.
package struct KeyringRecoveryMachine: Sendable {
    /// Where this node stands, as its driver knows it (the keys themselves stay there).
    public struct Standing: Sendable, Equatable {
        /// Admission is on: the swarm authority's key is configured.
        public var admission: Bool
        /// This node has a certificate and its identity key: it can sign a request or an answer.
        public var certified: Bool
        /// This node has a keyring: it can hand it out, and it may be stale.
        public var hasKeyring: Bool

        public init(admission: Bool, certified: Bool, hasKeyring: Bool) {
            self.admission = admission
            self.certified = certified
            self.hasKeyring = hasKeyring
        }
    }

    public enum Input: Sendable, Equatable {
        /// No seed answered a join (the core's `.joinFailed`); `seeds` are the join's seeds.
        case joinFailed(seeds: [Address])
        /// A keyring-recovery frame (`WireNamespace.keyringRequest` or `.keyringResponse`)
        /// arrived on a stream from `from`.
        case frame(WireNamespace, from: Address)
        /// The driver opened the answer and installed its keyring; `seeds` are the join's seeds.
        case answerOpened(seeds: [Address])
    }

    public enum Action: Sendable, Equatable {
        /// Build a fresh signed request (it replaces any earlier one) and send it to each seed.
        case sendRequest(to: [Address])
        /// Check the request from this address and answer it with the keyring sealed for the
        /// requester, or refuse it.
        case answerRequest(from: Address)
        /// Open the answer with the pending request's key and install the keyring it holds.
        case openAnswer(from: Address)
        /// Join again at once through these seeds rather than at the next retry.
        case rejoin(seeds: [Address])
    }

    /// The least time between two requests (`TrustSettings.keyringRecoveryInterval`).
    public var interval: Duration
    /// When the last request went out.
    public private(set) var lastRequestAt: Instant?
    /// A request is out and no answer was opened yet: answers are opened only then.
    public private(set) var awaitingAnswer = false

    public init(interval: Duration) { self.interval = interval }

    /// What to do about `input` at `now`.
    public mutating func handle(_ input: Input, standing: Standing, now: Instant) -> [Action] {
        switch input {
        case .joinFailed(let seeds):
            // Only a certified node with a keyring can be locked out by stale keys, and only
            // it can prove who it is; a join that keeps failing asks at most every interval.
            guard standing.admission, standing.certified, standing.hasKeyring else { return [] }
            if let last = lastRequestAt, now - last < interval { return [] }
            lastRequestAt = now
            awaitingAnswer = true
            return [.sendRequest(to: seeds)]
        case .frame(let namespace, let from):
            guard standing.admission else { return [] }
            switch namespace {
            case .keyringRequest:
                guard standing.certified, standing.hasKeyring else { return [] }
                return [.answerRequest(from: from)]
            case .keyringResponse:
                guard awaitingAnswer else { return [] }
                return [.openAnswer(from: from)]
            case .protocolV1, .sealed, .authenticated, .signed:
                return []
            }
        case .answerOpened(let seeds):
            awaitingAnswer = false
            return seeds.isEmpty ? [] : [.rejoin(seeds: seeds)]
        }
    }
}
