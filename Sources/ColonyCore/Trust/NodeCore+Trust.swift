import HashTreeCollections

/// Verifying what peers send, rate limits and peer trust.scores (DESIGN.md §6).
extension NodeCore {
    // MARK: Identity

    /// Sign everything this node originates and verify everything it receives with `a`
    /// (call before `start`). Without an trust.authenticator nothing is signed or checked.
    public mutating func authenticate(with a: any Authenticator, certificate: Certificate? = nil) {
        trust.authenticator = a
        membership.me.certificate = certificate
        signMe()
        membership.table.upsert(me, at: now)
    }

    var authenticates: Bool { trust.authenticator != nil }

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
    mutating func verified(_ signature: Signature?, of claim: @autoclosure () -> [UInt8], origin: NodeID) -> Bool {
        guard let a = trust.authenticator else { return true }
        guard let s = signature, s.publicKey.count == Signature.publicKeyBytes,
            s.bytes.count == Signature.signatureBytes,
            a.nodeID(for: s.publicKey) == origin, a.verify(s.bytes, of: claim(), publicKey: s.publicKey)
        else {
            stats.signaturesRejected += 1
            if let sender = trust.currentSender { penalize(sender, .invalidSignature) }
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
            stats.admissionRefused += 1
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
        stats.revocations += 1
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

    /// The bucket senders share when they are not attributable to a member.
    static let strangers = NodeID(high: 0, low: 0)

    /// Admit a packet of `bytes` from `sender` (nil: a stranger, or a member's id claimed
    /// from another host), or refuse it (counted, held against a known sender).
    mutating func admitRate(from sender: NodeID?, bytes: Int, via transport: Transport) -> Bool {
        let t = settings.trust
        let known = sender != nil
        let share = known ? 1 : t.strangerShare
        let key = sender ?? Self.strangers
        var bucket = trust.packetBuckets[key] ?? TokenBucket(burst: t.packetBurst * share, at: now)
        var ok = bucket.take(1, rate: t.packetsPerSecond * share, burst: t.packetBurst * share, now: now)
        trust.packetBuckets[key] = bucket
        if ok && transport == .datagram && bytes > 0 {
            var bb = trust.byteBuckets[key] ?? TokenBucket(burst: t.byteBurst * share, at: now)
            ok = bb.take(Double(bytes), rate: t.bytesPerSecond * share, burst: t.byteBurst * share, now: now)
            trust.byteBuckets[key] = bb
        }
        if !ok {
            stats.rateLimited += 1
            // One breach per sender per 100 ms window: a flood is a habit, not one slip per packet.
            let window = now.nanoseconds / 100_000_000
            if let sender, trust.lastBreachWindow[sender] != window {
                trust.lastBreachWindow[sender] = window
                penalize(sender, .rateLimited)
            }
        }
        return ok
    }

    // MARK: Scores

    /// The score we hold for `peer` (0 for strangers).
    public func score(of peer: NodeID) -> Double { trust.scores[peer]?.score(settings.trust) ?? 0 }

    /// True if we ignore `peer` (its score fell below the graylist threshold).
    public func isGraylisted(_ peer: NodeID) -> Bool { trust.scores[peer]?.graylisted ?? false }

    /// Every peer we hold a non-neutral score for.
    public var peerScores: TreeDictionary<NodeID, PeerScore> { trust.scores }

    mutating func penalize(_ peer: NodeID, _ offence: Offence) {
        guard peer != me.id else { return }
        var s = trust.scores[peer] ?? PeerScore()
        switch offence {
        case .invalidSignature:
            s.invalid += 1
            s.forgeries += 1
        case .malformed: s.invalid += 1
        case .rateLimited: s.rateBreaches += 1
        case .unanswered: s.unanswered += 1
        }
        stats.offences += 1
        trust.scores[peer] = s
        reassess(peer)
        armScoreDecay()
    }

    mutating func reward(_ peer: NodeID, timelyAck: Bool) {
        guard peer != me.id else { return }
        var s = trust.scores[peer] ?? PeerScore()
        if timelyAck { s.timelyAcks += 1 } else { s.firstDeliveries += 1 }
        trust.scores[peer] = s
        reassess(peer)
        armScoreDecay()
    }

    /// Cross thresholds: graylist (ignore) below one, propose eviction below the other;
    /// leave the graylist once the score recovers above it.
    mutating func reassess(_ peer: NodeID) {
        guard var s = trust.scores[peer] else { return }
        let value = s.score(settings.trust)
        let t = settings.trust
        if !s.graylisted && value < t.graylistThreshold {
            s.graylisted = true
            stats.peersGraylisted += 1
            emit(.peerGraylisted(peer, score: value))
            trust.scores[peer] = s
            accuse(peer)
        } else if s.graylisted && value >= t.graylistThreshold {
            s.graylisted = false
            // Recovered: a relapse earns a new eviction proposal.
            s.evictionProposed = false
            emit(.peerForgiven(peer, score: value))
        }
        if !s.evictionProposed && value < t.evictThreshold {
            s.evictionProposed = true
            emit(.evictionProposed(peer, score: value))
        }
        trust.scores[peer] = s
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
            trust.scores[id]!.decay(settings.trust)
            reassess(id)
            if trust.scores[id]!.isNeutral { trust.scores[id] = nil }
            // A peer that has left the table is no one we talk to: forget it once forgiven.
            if let s = trust.scores[id], !s.graylisted, table[id] == nil { trust.scores[id] = nil }
        }
        if !trust.scores.isEmpty { armScoreDecay() }
        reaccuse()
        // Forget breach windows and buckets of senders that are gone.
        trust.lastBreachWindow = trust.lastBreachWindow.filter { table[$0.key] != nil }
        if trust.packetBuckets.count > table.count + 1 {
            trust.packetBuckets = trust.packetBuckets.filter { table[$0.key] != nil || $0.key == Self.strangers }
            trust.byteBuckets = trust.byteBuckets.filter { table[$0.key] != nil || $0.key == Self.strangers }
        }
    }

    /// A packet from `address` failed before it could be decoded (malformed, unsealable):
    /// held against the member at that address, if we know one.
    public mutating func rejected(from address: Address, now: Instant) -> [Effect] {
        advance(to: now)
        stats.packetsRejected += 1
        if let id = membership.addressIndex[address], table[id]?.member.address == address {
            penalize(id, .malformed)
        } else if table.count <= 4096, let r = table.records.first(where: { $0.value.member.address == address }) {
            // Members the core was built knowing are not indexed yet: find and remember.
            membership.addressIndex[address] = r.key
            penalize(r.key, .malformed)
        }
        return flush()
    }
}
