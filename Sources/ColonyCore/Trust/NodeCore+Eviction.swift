import HashTreeCollections

/// Eviction (the types and their rules are in Eviction.swift).
///
/// A member we graylist is accused: we send our queen (the nearest other queen if she is the
/// accused) a signed accusation with the part of our score no network fault explains, and
/// repeat it every second while it stays graylisted; queens pass what their workers tell
/// them to each other. The accused's own queen (any queen, when the accused is a queen),
/// holding accusations from a majority of the accused's cellmates (her own included, at
/// least `HiveSettings.evictionAccusers`) within the window, whose penalties add up to
/// `TrustSettings.evictThreshold`, issues a signed eviction carrying the accused's pledge to
/// her (`evictionBasis`, `rosterRefusal`); a queen whose worker's identity is revoked issues
/// one citing the revocation. The eviction
/// is a reserved state record: it spreads like any write, and every member refuses the
/// identity until it expires or its issuer lifts it.
extension NodeCore {
    // MARK: Refusing

    /// Refused everywhere: revoked by the authority, or evicted and not yet expired or lifted.
    public func isExcluded(_ id: NodeID) -> Bool {
        if revoked.contains(id) { return true }
        guard !evictions.isEmpty, let byIssuer = evictions[id] else { return false }
        let ms = wallMs
        return byIssuer.values.contains { $0.inForce(atMs: ms) }
    }

    /// The evictions in force now (at most one per identity: the one lasting longest).
    public var evictionsInForce: [Eviction] { evictions.keys.sorted().compactMap(standingEviction) }

    /// `id`'s eviction in force now that lasts longest, if any.
    func standingEviction(of id: NodeID) -> Eviction? {
        let ms = wallMs
        return evictions[id]?.values.filter { $0.inForce(atMs: ms) }.max { $0.expiresMs < $1.expiresMs }
    }

    /// An evicted member's alive claim, refused now: kept (the newest) to be applied — and
    /// checked — when the eviction ends here, so its return needs no second announcement
    /// if our eviction ends later than its own (clocks differ a little).
    mutating func holdBack(_ m: Member) {
        guard trust.evictedNow.contains(m.id), m.incarnation > (trust.heldBack[m.id]?.incarnation ?? 0) else { return }
        trust.heldBack[m.id] = m
    }

    // MARK: Checking

    /// The valid eviction a reserved record holds, if it is one. Self-contained: the record's
    /// origin issued it, under its own key, signed, and justified by the authority's
    /// revocation or by accusations from a quorum of the accused's cell, with the proof of what
    /// that cell is — the accused worker's recent pledge to the issuer, or the accused queen's
    /// own claim (signatures verified when `verify`).
    mutating func eviction(in r: StateRecord, verify: Bool, blame: NodeID?) -> Eviction? {
        guard r.key.hasPrefix(Eviction.keyPrefix), let value = r.value, let e = try? Eviction(decoding: value),
            r.key == e.key, e.issuer == r.dot.origin, e.id != e.issuer,
            e.expiresMs >= e.atMs, e.expiresMs - e.atMs <= Eviction.maximumMs
        else { return nil }
        if let rev = e.revocation {
            guard rev.id == e.id, validRevocation(rev) else { return nil }
        } else {
            var accusers: Set<NodeID> = []
            for a in e.accusations {
                guard a.accuser != e.id, a.atMs + Eviction.accusationWindowMs >= e.atMs,
                    a.atMs <= e.atMs + Eviction.accusationSkewMs, accusers.insert(a.accuser).inserted
                else { return nil }
            }
            let anywhere: Bool
            switch (e.pledge, e.accusedClaim) {
            case (let p?, nil):
                guard p.atMs <= e.atMs &+ Eviction.accusationSkewMs, p.atMs &+ Pledge.maximumAgeMs >= e.atMs else {
                    return nil
                }
                anywhere = false
            case (nil, let c?):
                guard c.queen == e.id, !c.dissolved, e.cellmates == Eviction.cellmates(Int(c.size) - 1) else {
                    return nil
                }
                anywhere = true
            default:
                return nil
            }
            guard accusers.count >= Eviction.requiredAccusers(cellmates: e.cellmates, anywhere: anywhere),
                reachThreshold(e.accusations)
            else { return nil }
        }
        guard verify, authenticates else { return e }
        guard verified(e.signature, of: SignedClaim.eviction(e), origin: e.issuer, blame: blame) else { return nil }
        if let p = e.pledge {
            let claim = SignedClaim.pledge(
                cell: e.cell, term: e.term, queen: e.issuer, member: e.id, boot: p.boot, atMs: p.atMs)
            guard verified(p.signature, of: claim, origin: e.id, blame: blame) else { return nil }
        }
        if let c = e.accusedClaim {
            guard verified(c.signature, of: SignedClaim.queen(c), origin: e.id, blame: blame) else { return nil }
        }
        for a in e.accusations
        where !verified(a.signature, of: SignedClaim.accusation(a), origin: a.accuser, blame: blame) {
            return nil
        }
        return e
    }

    /// The evicted identity of an eviction record's deletion by its issuer (its expired
    /// record collected, `collectExpiredEvictions`); nil if `r` is not one.
    func evictionDeletion(_ r: StateRecord) -> NodeID? {
        guard r.value == nil, r.key.hasPrefix(Eviction.keyPrefix) else { return nil }
        let parts = r.key.dropFirst(Eviction.keyPrefix.count).split(separator: "/")
        guard parts.count == 2, let id = NodeID(hex: String(parts[0])), let issuer = NodeID(hex: String(parts[1])),
            issuer == r.dot.origin
        else { return nil }
        return id
    }

    /// What the swarm asks of an eviction beyond its signatures (issue 18: no one evicts
    /// alone), checked by each member against its own view and clock when the record is news
    /// to it; nil if it passes. The signatures make forgery self-evident; these rules stop
    /// members who sign honestly but lie: an eviction dated ahead of our clock, one already
    /// over, one issued by a member that is not the queen we know for its cell, one whose
    /// accusers are not live members here (identities made for the purpose), one not issued
    /// by the accused's queen per the roster we hold (`rosterRefusal`), one that names the
    /// accused's cell at less than half the size we know (`cellmates`), and more than
    /// `Eviction.maximumPerIssuer` from one issuer within `Eviction.rateWindowMs`. A lift is
    /// never refused: it only ends what its issuer began.
    func evictionRefusal(_ e: Eviction) -> String? {
        let ms = wallMs
        guard e.atMs <= ms &+ Eviction.accusationSkewMs else { return "future" }
        guard e.expiresMs > ms || e.lifted else { return "expired" }
        // The authority's revocation justifies itself; the rest need the swarm.
        guard e.revocation == nil, e.issuer != me.id, !e.lifted else { return nil }
        let knownQueen =
            (hive.cell == e.cell && (hive.queen == e.issuer))
            || (hive.cells[e.cell].map { $0.queen == e.issuer && !$0.dissolved } ?? false)
        guard knownQueen else { return "not_queen" }
        if let refusal = rosterRefusal(e) { return refusal }
        // The quorum is counted against the cell the record names; a cell we know to be more
        // than twice as large (a split halves one) means it was understated.
        if let size = accusedCellSize(e), Int(e.cellmates) + 1 < min(size, Int(Eviction.maximumCellmates) + 1) / 2 {
            return "cellmates"
        }
        for a in e.accusations {
            guard let m = table[a.accuser]?.member, m.status.isLive, !isExcluded(a.accuser) else { return "accusers" }
        }
        var recent = 0
        for byIssuer in trust.evictions.values {
            for other in byIssuer.values
            where other.issuer == e.issuer && other.id != e.id && other.atMs &+ Eviction.rateWindowMs > e.atMs {
                recent += 1
            }
        }
        guard recent < Eviction.maximumPerIssuer else { return "rate" }
        return nil
    }

    /// The accused's current queen must issue it, per the signed roster of its cell: every
    /// member that holds that roster (the accused's cellmates and queen) refuses another
    /// cell's queen evicting one of theirs. A queen has no queen above her: another cell's
    /// queen may evict her, which every member can check, since queens' claims reach
    /// everyone. Members of other cells cannot see the accused's roster and do not judge it
    /// (nor do the issuer's cellmates: an accused already gone from their roster may have
    /// left it because it was evicted). A lift is never refused. Nil if it passes.
    func rosterRefusal(_ e: Eviction) -> String? {
        guard !e.lifted, e.accusedClaim == nil, let roster = hive.roster, let cell = hive.cell,
            roster.voter(for: e.id) != nil, !isKnownQueen(e.id)
        else { return nil }
        return e.cell == cell && e.issuer == hive.queen ? nil : "not_accused_queen"
    }

    /// The size of the accused's cell as we know it: our roster if it is ours, else its
    /// queen's claim (the issuer's cell for a worker, the accused's own for a queen).
    func accusedCellSize(_ e: Eviction) -> Int? {
        if let c = e.accusedClaim {
            return hive.cells[c.cell].flatMap { $0.queen == e.id && !$0.dissolved ? Int($0.size) : nil }
        }
        if hive.cell == e.cell, let roster = hive.roster { return roster.count }
        return hive.cells[e.cell].map { Int($0.size) }
    }

    /// `id` is the queen of a cell we know (not dissolved): queens' claims reach everyone.
    func isKnownQueen(_ id: NodeID) -> Bool { knownClaim(of: id) != nil }

    /// The claim we hold of a cell (not dissolved) whose queen is `id`.
    func knownClaim(of id: NodeID) -> QueenClaim? { hive.cells.values.first { $0.queen == id && !$0.dissolved } }

    /// Our own eviction records that are over: deleted, so the state does not keep every
    /// eviction ever issued (a deletion's tombstone is collected like any other).
    mutating func collectExpiredEvictions() {
        let ms = wallMs
        var over: [Eviction] = []
        for byIssuer in trust.evictions.values {
            guard let e = byIssuer[me.id], !e.inForce(atMs: ms),
                state.keyState(e.key)?.siblings.contains(where: { $0.value != nil }) == true
            else { continue }
            over.append(e)
        }
        for e in over.sorted(by: { $0.id < $1.id }) {
            guard case .success = writeRecord(e.key, value: nil, context: nil) else { continue }
            var local = Inbound.local
            refreshEviction(e.id, quietly: true, &local)
        }
    }

    // MARK: Applying

    /// Re-read what the state holds about `id`'s evictions, and act on a change: an identity
    /// newly evicted is marked dead and leaves every cell; one no longer evicted may return.
    mutating func refreshEviction(_ id: NodeID, quietly: Bool = false, _ inbound: inout Inbound) {
        let prefix = Eviction.keyPrefix + id.description + "/"
        var byIssuer: [NodeID: Eviction] = [:]
        for key in state.keys(prefix: prefix) {
            for s in state.keyState(key)?.siblings ?? [] {
                guard let v = s.value, let e = try? Eviction(decoding: v), e.id == id else { continue }
                if let held = byIssuer[e.issuer], held.atMs > e.atMs || (held.atMs == e.atMs && held.lifted) {
                    continue
                }
                byIssuer[e.issuer] = e
            }
        }
        trust.evictions[id] = byIssuer.isEmpty ? nil : byIssuer
        let evicted = standingEviction(of: id) != nil && !revoked.contains(id)
        guard evicted != trust.evictedNow.contains(id) else { return }
        if evicted {
            trust.evictedNow.insert(id)
            guard !quietly, let e = standingEviction(of: id) else { return }
            trust.stats.evictionsApplied += 1
            emit(.evicted(e))
            hive.accusations[id] = nil
            // The eviction settles the account: the identity returns with a clean score
            // (while evicted nothing it sends reaches scoring).
            trust.scores[id] = nil
            if id == me.id {
                // We are refused everywhere: leave our cell (a queen abdicates).
                if hive.role == .queen {
                    abdicate(dissolve: false, reason: "evicted")
                } else if hive.cell != nil {
                    leaveCell(reason: "evicted", notify: false)
                }
            } else if let current = table[id]?.member, current.status.isLive {
                var updated = current
                updated.status = .dead
                set(updated, previous: current)
            }
        } else {
            trust.evictedNow.remove(id)
            guard !quietly else { return }
            emit(.evictionEnded(id, lifted: evictions[id]?.values.contains { $0.lifted } ?? false))
            if id == me.id {
                // Back: announce ourselves anew over the dead verdicts everyone holds, and
                // swap tables with two members so the news starts at once.
                refute(claimed: me.incarnation)
                for m in randomMembers(2, filter: { $0.member.status == .alive }) { startDigest(with: m.peer) }
            } else if let m = trust.heldBack.removeValue(forKey: id) {
                // It announced itself while we still refused it.
                applyAlive(m, &inbound)
            } else if let r = table[id], r.member.status == .dead, hive.rng.unit() < 3 / Double(max(1, table.liveCount))
            {
                // A few members (three, on average) tell the returning member it was held
                // dead, in case it has not noticed its eviction ended: it refutes.
                startDigest(with: r.member.peer)
            }
        }
    }

    /// Evictions that ran out (looked for on the reap tick, and on the hive's home tick so an
    /// evicted member notices its own at once): the identity may return.
    mutating func expireEvictions() {
        var local = Inbound.local
        for id in trust.evictedNow.sorted() where !isExcluded(id) { refreshEviction(id, &local) }
    }

    /// The accusers' penalties add up to the eviction threshold: the swarm's reputation of
    /// the member is below it.
    func reachThreshold<S: Sequence>(_ accusations: S) -> Bool where S.Element == Accusation {
        let total = accusations.reduce(0.0) { $0 + Double($1.penalty) }
        return -total <= settings.trust.evictThreshold
    }

    // MARK: Accusing

    /// We graylisted `peer`: accuse it to a queen with the part of our score no network
    /// fault explains (forged signatures, floods). A member graylisted only for requests it
    /// left unanswered — which partitions and pauses cause too — is not accused.
    mutating func accuse(_ peer: NodeID) {
        guard hiveOn, phase == .active, peer != me.id, !isExcluded(peer), !isExcluded(me.id), let s = trust.scores[peer]
        else { return }
        let penalty = UInt64(min(1e12, max(0, s.gravePenalty(settings.trust))).rounded())
        guard penalty > 0 else { return }
        var a = Accusation(accused: peer, accuser: me.id, atMs: wallMs, penalty: penalty)
        a.signature = sign(SignedClaim.accusation(a))
        if hive.role == .queen, let cell = hive.cell {
            noteAccusation(a, cell: cell, share: true)
            return
        }
        // Our queen, unless she is the accused: then the nearest other queen.
        let target: (cell: CellID, queen: NodeID)?
        if let cell = hive.cell, let q = hive.queen, q != peer {
            target = (cell, q)
        } else {
            target = nearestCell { $0.queen != peer }.map { ($0.cell, $0.queen) }
        }
        guard let target, let m = table[target.queen]?.member else { return }
        trust.stats.accusationsSent += 1
        sendDatagram(.hive(.accuse(cell: target.cell, accusation: a)), to: m.peer)
    }

    /// Every second: accuse again every peer still graylisted, with its score now (an
    /// accusation may be lost, or reach a queen that is replaced before she has enough).
    mutating func reaccuse() {
        guard hiveOn else { return }
        for (id, s) in trust.scores where s.graylisted { accuse(id) }
    }

    /// An accusation from a worker of our cell (or about our own queen, from another
    /// cell's), or one another queen passes on: the victims of one offender are spread over
    /// many cells, so queens pool what they hear.
    mutating func onAccuse(cell: CellID, accusation a: Accusation, from: NodeID, blame: NodeID?) {
        let fromQueen = a.accuser != from
        guard hive.role == .queen, cell == hive.cell, a.accused != me.id, a.accused != from, a.accuser != a.accused,
            table[from]?.member.status == .alive, !isGraylisted(from), !isExcluded(from), !isExcluded(a.accuser),
            !isExcluded(me.id),
            !fromQueen || isKnownQueen(from)
        else { return }
        let ms = wallMs
        guard a.atMs + Eviction.accusationWindowMs >= ms, a.atMs <= ms + Eviction.accusationSkewMs,
            verified(a.signature, of: SignedClaim.accusation(a), origin: a.accuser, blame: blame)
        else { return }
        trust.stats.accusationsReceived += 1
        noteAccusation(a, cell: cell, share: !fromQueen)
    }

    /// Hold `a`; evict once enough distinct members accuse. `share`: pass it to the other
    /// queens (an accusation first heard here).
    mutating func noteAccusation(_ a: Accusation, cell: CellID, share: Bool) {
        guard !isExcluded(a.accused) else { return }
        let ms = wallMs
        var held = hive.accusations[a.accused] ?? [:]
        held[a.accuser] = a
        held = held.filter { $0.value.atMs + Eviction.accusationWindowMs >= ms }
        // Bounded: only live members accuse, and the oldest accused are forgotten first.
        if hive.accusations[a.accused] == nil, hive.accusations.count >= 1024,
            let oldest = hive.accusations.min(by: {
                ($0.value.values.map(\.atMs).max() ?? 0) < ($1.value.values.map(\.atMs).max() ?? 0)
            })
        {
            hive.accusations[oldest.key] = nil
        }
        hive.accusations[a.accused] = held
        if let basis = evictionBasis(for: a.accused), let evidence = evidence(held.values, basis) {
            issueEviction(
                of: a.accused, cell: cell, accusations: evidence, revocation: nil, cellmates: basis.cellmates,
                pledge: basis.pledge, accusedClaim: basis.claim)
            return
        }
        guard share else { return }
        for c in hive.cells.keys.sorted() {
            guard let claim = hive.cells[c], c != cell, !claim.dissolved, claim.queen != me.id,
                claim.queen != a.accused,
                let m = table[claim.queen]?.member, m.status == .alive
            else { continue }
            sendDatagram(.hive(.accuse(cell: c, accusation: a)), to: m.peer)
        }
    }

    // MARK: Issuing and lifting

    mutating func issueEviction(
        of id: NodeID, cell: CellID, accusations: [Accusation], revocation: Revocation?, cellmates: UInt64 = 0,
        pledge: Pledge? = nil, accusedClaim: QueenClaim? = nil
    ) {
        guard id != me.id, !trust.evictedNow.contains(id) || revocation != nil else { return }
        let at = wallMs
        let ttl = UInt64(max(.zero, settings.hive.evictionTTL).wholeMilliseconds)
        var e = Eviction(
            id: id, issuer: me.id, cell: cell, term: hive.term, atMs: at, expiresMs: at + min(ttl, Eviction.maximumMs),
            accusations: accusations, revocation: revocation, cellmates: cellmates, pledge: pledge,
            accusedClaim: accusedClaim)
        e.signature = sign(SignedClaim.eviction(e))
        guard case .success = writeRecord(e.key, value: e.encoded, context: nil) else { return }
        trust.stats.evictionsIssued += 1
        hive.accusations[id] = nil
        var local = Inbound.local
        refreshEviction(id, &local)
    }

    /// Our eviction record (or its lifting) just became durable and went out: tell the
    /// member too (it hears from no one else while evicted), so it knows why and until
    /// when — or that it may return now.
    mutating func noticeEvicted(_ r: StateRecord) {
        guard r.key.hasPrefix(Eviction.keyPrefix), let v = r.value, let e = try? Eviction(decoding: v),
            let m = table[e.id]?.member
        else { return }
        out.append(.send(Packet(from: me.id, message: .gossip, updates: [.record(r)]), to: m.peer, via: .stream))
    }

    /// `colony hive lift`: end `id`'s evictions now. Those this node issued are rewritten
    /// lifted here; for the others a signed request goes to their issuer, who lifts hers.
    /// `colony hive lift`: end `id`'s evictions in force — this node's at once, others' by
    /// asking their issuers. Where operators are required (`requiresOperator`), `orders` holds
    /// an operator's signature of `OperatorOrder.lift` for each eviction, by its issuer.
    public mutating func lift(
        _ id: NodeID, orders: [NodeID: Signature] = [:], now: Instant
    ) -> (Result<[Eviction], LiftError>, [Effect]) {
        advance(to: now)
        let ms = wallMs
        let standing = (evictions[id] ?? [:]).values.filter { $0.inForce(atMs: ms) }.sorted { $0.issuer < $1.issuer }
        guard !standing.isEmpty else { return (.failure(.notEvicted(id)), flush()) }
        var asked: [Eviction] = []
        var gone: NodeID?
        var refused: OrderRefusal?
        for e in standing {
            if requiresOperator,
                let r = check(.lift(evicted: id, issuer: e.issuer, atMs: e.atMs), signature: orders[e.issuer])
            {
                trust.stats.ordersRefused += 1
                refused = r
                continue
            }
            if e.issuer == me.id {
                liftOwn(e)
                asked.append(e)
            } else if let m = table[e.issuer]?.member, m.status.isLive {
                let signature =
                    requiresOperator ? orders[e.issuer] : sign(SignedClaim.liftRequest(evicted: id, by: me.id))
                sendDatagram(.hive(.lift(cell: e.cell, evicted: id, signature: signature)), to: m.peer)
                asked.append(e)
            } else {
                gone = e.issuer
            }
        }
        if asked.isEmpty, let refused { return (.failure(.order(refused)), flush()) }
        if asked.isEmpty, let gone { return (.failure(.issuerGone(gone)), flush()) }
        return (.success(asked), flush())
    }

    mutating func liftOwn(_ e: Eviction) {
        var lifted = e
        lifted.lifted = true
        lifted.signature = sign(SignedClaim.eviction(lifted))
        guard case .success = writeRecord(lifted.key, value: lifted.encoded, context: nil) else { return }
        trust.stats.evictionsLifted += 1
        var local = Inbound.local
        refreshEviction(e.id, &local)
    }

    /// A member asks us to lift our eviction of `evicted` (an operator's order, as depose).
    mutating func onLift(evicted: NodeID, signature: Signature?, from: NodeID, blame: NodeID?) {
        if requiresOperator {
            // Only an operator's order for this very eviction, whoever relays it.
            guard let e = evictions[evicted]?[me.id], e.inForce(atMs: wallMs) else { return }
            guard check(.lift(evicted: evicted, issuer: me.id, atMs: e.atMs), signature: signature) == nil else {
                trust.stats.ordersRefused += 1
                return
            }
            liftOwn(e)
            return
        }
        guard from != evicted, table[from]?.member.status.isLive == true, !isGraylisted(from), !isExcluded(from),
            let e = evictions[evicted]?[me.id], e.inForce(atMs: wallMs),
            verified(signature, of: SignedClaim.liftRequest(evicted: evicted, by: from), origin: from, blame: blame)
        else { return }
        liftOwn(e)
    }
}
