import HashTreeCollections

/// Verifying what peers send, rate limits and peer scores (docs/design.md §6).
extension NodeCore {
    // MARK: Identity

    /// Sign everything this node originates and verify everything it receives with `a`
    /// (call before `start`). Without an authenticator nothing is signed or checked.
    public mutating func authenticate(with a: any Authenticator, certificate: Certificate? = nil) {
        trust.authenticator = a
        membership.signedIncarnations = true
        membership.me.certificate = certificate
        signMe()
        membership.table.upsert(me, at: now)
    }

    var authenticates: Bool { trust.authenticator != nil }

    /// A member's Ed25519 public key, from its signed claim: what a driver authenticates
    /// packets to it with.
    package func publicKey(of id: NodeID) -> [UInt8]? { table[id]?.member.signature?.publicKey }

    mutating func signMe() {
        guard let a = trust.authenticator else { return }
        let claim =
            me.status == .left ? SignedClaim.left(id: me.id, incarnation: me.incarnation) : SignedClaim.alive(me)
        membership.me.signature = Signature(publicKey: a.publicKey, bytes: a.sign(claim))
    }

    func sign(_ claim: [UInt8]) -> Signature? {
        guard let a = trust.authenticator else { return nil }
        return Signature(publicKey: a.publicKey, bytes: a.sign(claim))
    }

    /// True if `signature` is `origin`'s valid signature of `claim` (always true when this
    /// node does not authenticate). A failure is counted and held against the sender.
    mutating func verified(
        _ signature: Signature?, of claim: @autoclosure () -> [UInt8], origin: NodeID, blame: NodeID?
    ) -> Bool {
        guard let a = trust.authenticator else { return true }
        guard let s = signature, s.publicKey.count == Signature.publicKeyBytes,
            s.bytes.count == Signature.signatureBytes,
            a.nodeID(for: s.publicKey) == origin, a.verify(s.bytes, of: claim(), publicKey: s.publicKey)
        else {
            trust.stats.signaturesRejected += 1
            if let blame { penalize(blame, .invalidSignature) }
            return false
        }
        return true
    }

    // MARK: Admission and revocation

    /// With admission on: `m` carries a certificate for the key it signed with, for its
    /// name, signed by the authority and unexpired (by our wall clock).
    mutating func admitted(_ m: Member) -> Bool {
        guard let authority = settings.trust.authorityKey, let a = trust.authenticator else { return true }
        guard let c = m.certificate, let s = m.signature, c.publicKey == s.publicKey, c.name == m.name,
            wallMs == 0 || c.expiresMs > wallMs,
            a.verify(c.signature, of: SignedClaim.certificate(c), publicKey: authority)
        else {
            trust.stats.admissionRefused += 1
            return false
        }
        return true
    }

    /// The authority's revocation a reserved record holds, if it is one and valid.
    func revocation(in r: StateRecord) -> Revocation? {
        guard r.key.hasPrefix(Self.reservedKeyPrefix), let value = r.value, let rev = try? Revocation(decoding: value),
            r.key == rev.key, validRevocation(rev)
        else { return nil }
        return rev
    }

    func validRevocation(_ r: Revocation) -> Bool {
        guard let authority = settings.trust.authorityKey, let a = trust.authenticator else { return false }
        return a.verify(r.signature, of: SignedClaim.revocation(r), publicKey: authority)
    }

    mutating func applyRevocation(_ r: Revocation) {
        guard trust.revoked.insert(r.id).inserted else { return }
        trust.stats.revocations += 1
        emit(.revoked(r.id))
        if r.id != me.id, let current = table[r.id]?.member, current.status.isLive {
            var updated = current
            updated.status = .dead
            set(updated, previous: current)
        }
        // Her queen records why it left her cell: an eviction citing the revocation.
        if hive.role == .queen, let cell = hive.cell, hive.roster?.voter(for: r.id) != nil {
            issueEviction(of: r.id, cell: cell, accusations: [], revocation: r)
        }
    }

    /// Spread the authority's revocation of an identity (checked here first): a reserved
    /// state record, so it reaches every member, joiners and nodes that were away included.
    public mutating func revoke(_ r: Revocation, wallMs: UInt64, now: Instant) -> (
        Result<StateRecord, StateError>, [Effect]
    ) {
        advance(to: now)
        guard validRevocation(r) else { return (.failure(.invalidRevocation), flush()) }
        return write(r.key, value: r.encoded, context: nil, wallMs: wallMs, now: now)
    }

    // MARK: Rate limits

    /// Admit a packet of `bytes` from `sender` (nil: a stranger, or a member's id claimed
    /// from another host), or refuse it (counted, held against a known sender).
    mutating func admitRate(from sender: NodeID?, bytes: Int, via transport: Transport) -> Bool {
        switch trust.admit(from: sender, bytes: bytes, via: transport, now: now, settings.trust) {
        case .admitted:
            return true
        case .refused(let breach):
            trust.stats.rateLimited += 1
            if let breach { penalize(breach, .rateLimited) }
            return false
        }
    }

    // MARK: Scores

    /// The score we hold for `peer` (0 for strangers).
    public func score(of peer: NodeID) -> Double { trust.score(of: peer, settings.trust) }

    /// True if we ignore `peer` (its score fell below the graylist threshold).
    public func isGraylisted(_ peer: NodeID) -> Bool { trust.scores[peer]?.graylisted ?? false }

    /// Every peer we hold a non-neutral score for.
    public var peerScores: TreeDictionary<NodeID, PeerScore> { trust.scores }

    mutating func penalize(_ peer: NodeID, _ offence: Offence) {
        guard peer != me.id else { return }
        trust.stats.offences += 1
        act(on: trust.penalize(peer, offence, settings.trust), of: peer)
        armScoreDecay()
    }

    mutating func reward(_ peer: NodeID, timelyAck: Bool) {
        guard peer != me.id else { return }
        act(on: trust.reward(peer, timelyAck: timelyAck, settings.trust), of: peer)
        armScoreDecay()
    }

    /// Tell the application what `peer`'s score crossed; accuse it once graylisted.
    mutating func act(on crossed: [Trust.Crossing], of peer: NodeID) {
        for c in crossed {
            switch c {
            case .graylisted(let score):
                trust.stats.peersGraylisted += 1
                emit(.peerGraylisted(peer, score: score))
                accuse(peer)
            case .forgiven(let score):
                emit(.peerForgiven(peer, score: score))
            case .evictionProposed(let score):
                emit(.evictionProposed(peer, score: score))
            }
        }
    }

    mutating func armScoreDecay() {
        guard !trust.scoreDecayArmed else { return }
        trust.scoreDecayArmed = true
        timers.schedule(.trust(.scoreDecay), at: now + .seconds(1))
    }

    mutating func onScoreDecayTick() {
        trust.scoreDecayArmed = false
        var ids: [NodeID] = []
        for (id, _) in trust.scores { ids.append(id) }
        for id in ids {
            // A peer that has left the table is no one we talk to: forgotten once forgiven.
            act(on: trust.decay(id, settings.trust, isMember: table[id] != nil), of: id)
        }
        if !trust.scores.isEmpty { armScoreDecay() }
        reaccuse()
        let table = self.table
        trust.forgetSenders(count: table.count) { table[$0] != nil }
    }

    /// A packet from `address` failed before it could be applied (unsealable, unverified,
    /// malformed): held against its sender if the gate proved who that is; in a swarm without
    /// identities, against the member at that address.
    public mutating func rejected(sender: PacketSender, from address: Address, now: Instant) -> [Effect] {
        advance(to: now)
        trust.stats.packetsRejected += 1
        switch sender {
        case .verified(let id):
            // Its sender is proven: a malformed packet is its own doing.
            penalize(id, .malformed)
        case .unverified:
            // With identities, an unverified packet blames nobody: its source may be spoofed.
            guard !authenticates else { break }
            if let id = membership.addressIndex[address], table[id]?.member.address == address {
                penalize(id, .malformed)
            } else if table.count <= 4096, let r = table.records.first(where: { $0.value.member.address == address }) {
                // Members the core was built knowing are not indexed yet: find and remember.
                membership.addressIndex[address] = r.key
                penalize(r.key, .malformed)
            }
        }
        return flush()
    }
}
