/// Cells and queens (DESIGN.md §5; the protocol is described in Hive.swift).
///
/// A member outside any cell enlists with the nearest queen that has room, or — when no
/// cell is open and the swarm is large enough — founds one after a random delay (so few
/// found at once while claims spread). Workers hear their queen's heartbeat every
/// `heartbeatInterval`; a worker that misses it for a randomised election timeout asks for
/// pre-votes, then votes. A queen renews her lease from acknowledged rounds and steps down
/// when a majority stops answering (check-quorum). She changes the roster one voter at a
/// time and announces her cell to the swarm with a signed claim.
extension NodeCore {
    var hiveOn: Bool { settings.hive.enabled }
    public var voter: Voter { Voter(id: me.id, boot: boot) }

    // MARK: Timers

    mutating func startHive() {
        guard hiveOn else { return }
        armHome(
            at: now.advanced(
                byNanoseconds: Int64(hiveRng.below(Int(max(1, settings.hive.homeInterval.nanosecondsInt64))))))
    }

    /// Look for a cell (or, as a worker, for a nearer one) at `t`, or earlier if so armed
    /// already (a timer it supersedes fires to no effect).
    mutating func armHome(at t: Instant) {
        if let at = hive.homeAt, at <= t { return }
        hive.homeAt = t
        timers.schedule(.hiveHome, at: t)
    }

    mutating func armElection(at deadline: Instant) {
        hive.electionDeadline = deadline
        guard !hive.electionArmed else { return }
        hive.electionArmed = true
        timers.schedule(.hiveElection, at: deadline)
    }

    mutating func armHeartbeat(at t: Instant) {
        guard !hive.heartbeatArmed else { return }
        hive.heartbeatArmed = true
        timers.schedule(.hiveHeartbeat, at: t)
    }

    mutating func randomElectionTimeout() -> Int64 {
        let lo = settings.hive.electionTimeoutMin.nanosecondsInt64
        let hi = max(lo + 1, settings.hive.electionTimeoutMax.nanosecondsInt64)
        return lo + Int64(hiveRng.below(Int(hi - lo)))
    }

    /// Healthy, old enough and not leaving: fit to found a cell or stand for election.
    var eligibleForQueen: Bool {
        phase == .active && awareness.score == 0
            && now.nanoseconds(since: bootedAt) >= settings.hive.minimumUptime.nanosecondsInt64
            && (hive.sitOutUntil.map { now >= $0 } ?? true) && !isExcluded(me.id)
    }

    /// Heard our queen within the stickiness window (we vote for no one else meanwhile).
    var queenRecentlyHeard: Bool {
        guard let at = hive.heardQueenAt else { return false }
        return now.nanoseconds(since: at) < settings.hive.electionTimeoutMin.nanosecondsInt64
    }

    /// Queen only: the lease is held now.
    public var holdsLease: Bool {
        hive.role == .queen && (hive.leaseUntil.map { $0 > now } ?? false)
    }

    // MARK: Homeless members

    mutating func onHomeTick() {
        guard let at = hive.homeAt, now >= at else { return }
        hive.homeAt = nil
        guard hiveOn, phase == .active else { return }
        if !evictedNow.isEmpty { expireEvictions() }
        guard hive.role == .homeless else {
            if hive.role == .worker { considerRehome() }
            let jitter = Int64(hiveRng.below(Int(max(1, settings.hive.rehomeInterval.nanosecondsInt64 / 4))))
            armHome(at: now.advanced(byNanoseconds: settings.hive.rehomeInterval.nanosecondsInt64 + jitter))
            return
        }
        armHome(at: now + settings.hive.homeInterval)
        let live = table.liveCount
        // Evicted: every queen refuses us until it ends.
        guard live >= settings.hive.minimumMembers, !isExcluded(me.id) else {
            hive.foundAt = nil
            return
        }
        if let e = hive.enlisting {
            // A queen answers within a round trip; one that has not by the next look is gone.
            if now.nanoseconds(since: e.at) < settings.hive.electionTimeoutMin.nanosecondsInt64 { return }
            // Unanswered: its claim may be stale (a queen that lost her cell); try another.
            hive.refusedBy[e.cell] = now
        }
        hive.enlisting = nil
        if let target = nearestOpenCell() {
            hive.foundAt = nil
            enlist(with: target)
            return
        }
        guard eligibleForQueen else { return }
        if let at = hive.foundAt {
            if now >= at { found() }
        } else {
            let window =
                settings.hive.foundSpacing.nanosecondsInt64 * Int64(max(1, min(live / 2, settings.hive.cellHighWater)))
            hive.foundAt = now.advanced(byNanoseconds: Int64(hiveRng.below(Int(max(1, window)))))
        }
    }

    /// Nearness: coordinates pick the candidates, round trips decide. A worker times its
    /// queen and the `rehomeCandidates` open cells' queens nearest by coordinates (each at
    /// most once per `rehomeMeasureInterval` once sampled enough), and every
    /// `rehomeExploreInterval` one other open cell's queen at random: coordinates misplace
    /// some pairs badly, and a queen found nearer that way stays a candidate. It moves when a
    /// candidate answers in under `rehomeFactor` × its own queen's time (the least of recent
    /// samples: jitter only adds) — it leaves its cell and enlists at once. Coordinates
    /// alone err by more than the gains sought (tenths of a millisecond on a LAN). Not into a
    /// cell below its low-water mark (about to merge) or near its high-water mark (about to
    /// split), nor while its queen is not heard. Leaving may bring a cell below its
    /// low-water mark: a cell its members find far away should merge.
    mutating func considerRehome() {
        pruneNearness()
        guard hive.role == .worker, routing, vivaldi.coordinate.error <= settings.hive.rehomeMaxError,
            let cell = hive.cell,
            let own = hive.cells[cell], own.queen == hive.queen
        else { return }
        let low = settings.hive.lowWaterMark
        let high = settings.hive.cellHighWater
        let eligible = nearestCells(hive.cells.count) { c in
            c.cell != cell && isOpen(c) && Int(c.size) >= low && Int(c.size) + 2 < high
        }
        var candidates = Array(eligible.prefix(settings.hive.rehomeCandidates))
        if let ownLeast = leastRTT(own.queen, samples: 1) {
            candidates += eligible.dropFirst(candidates.count).filter { c in
                leastRTT(c.queen, samples: 1).map { $0 < settings.hive.rehomeFactor * ownLeast } ?? false
            }
        }
        for c in [own] + candidates { measureIfStale(c.queen, at: c.peer) }
        if now >= hive.exploreAt {
            hive.exploreAt = now + settings.hive.rehomeExploreInterval
            let fresh = settings.hive.rehomeMeasureInterval.nanosecondsInt64
            let unexplored = eligible.filter { c in
                !candidates.contains { $0.cell == c.cell }
                    && !(hive.nearness[c.queen]?.last.map { now.nanoseconds(since: $0.at) < fresh } ?? false)
            }.sorted { $0.cell < $1.cell }
            if !unexplored.isEmpty {
                let c = unexplored[hiveRng.below(unexplored.count)]
                measure(c.queen, at: c.peer)
            }
        }
        guard let mine = leastRTT(own.queen) else { return }
        let best = candidates.compactMap { c in leastRTT(c.queen).map { (claim: c, rtt: $0) } }.min { $0.rtt < $1.rtt }
        guard let best, best.rtt < settings.hive.rehomeFactor * mine else { return }
        leaveCell(reason: "re-homing to a nearer queen", notify: true)
        enlist(with: best.claim)
    }

    /// Ping `queen` to time the round trip, unless recent samples suffice.
    mutating func measureIfStale(_ queen: NodeID, at peer: Peer) {
        let fresh = settings.hive.rehomeMeasureInterval.nanosecondsInt64
        if let s = hive.nearness[queen], s.count >= vivaldi.settings.latencyFilterSize, let last = s.last,
            now.nanoseconds(since: last.at) < fresh
        {
            return
        }
        measure(queen, at: peer)
    }

    /// Ping `queen` to time the round trip (unless a ping to it is in flight).
    mutating func measure(_ queen: NodeID, at peer: Peer) {
        if hive.nearPings.values.contains(where: { $0.peer == queen }) { return }
        let seq = nextSeq()
        hive.nearPings[seq] = (queen, now)
        sendDatagram(.ping(seq: seq, target: queen), to: peer)
    }

    /// The least of the recent round trips to `queen` (jitter only adds), once there are
    /// `samples` of them: two to decide a move on, one to make a queen a candidate.
    func leastRTT(_ queen: NodeID, samples: Int = 2) -> Double? {
        guard let s = hive.nearness[queen], s.count >= samples else { return nil }
        return s.map(\.rtt).min()
    }

    /// An ack to a nearness ping: keep the sample (and place ourselves by it). True if it was one.
    mutating func onNearnessAck(seq: UInt32, from sender: NodeID, coordinate: Coordinate?) -> Bool {
        guard let ping = hive.nearPings[seq], ping.peer == sender, currentSender == sender else { return false }
        hive.nearPings[seq] = nil
        let rtt = Double(now.nanoseconds(since: ping.sentAt)) / 1e9
        var s = hive.nearness[sender] ?? []
        s.append((rtt, now))
        s.removeFirst(max(0, s.count - vivaldi.settings.latencyFilterSize))
        hive.nearness[sender] = s
        if let c = coordinate { learnCoordinate(c, of: sender, rtt: rtt) }
        return true
    }

    /// Forget unanswered pings and samples of members that are no longer queens.
    mutating func pruneNearness() {
        let lost = 10 * settings.probeTimeout.nanosecondsInt64
        hive.nearPings = hive.nearPings.filter { now.nanoseconds(since: $0.value.sentAt) < lost }
        guard !hive.nearness.isEmpty else { return }
        let queens = Set(hive.cells.values.filter { !$0.dissolved }.map(\.queen))
        hive.nearness = hive.nearness.filter { queens.contains($0.key) }
    }

    /// Ask `claim`'s queen to admit us (answered by `enlisted`, then her heartbeat).
    mutating func enlist(with claim: QueenClaim) {
        hive.enlisting = (claim.cell, now)
        sendDatagram(.hive(.enlist(cell: claim.cell, boot: boot)), to: claim.peer)
    }

    /// The open cell whose queen is nearest by network coordinates.
    func nearestOpenCell() -> QueenClaim? {
        nearestCell(matching: isOpen)
    }

    /// Open, and it has not refused us lately.
    func isOpen(_ c: QueenClaim) -> Bool {
        let refusalWindow = 10 * settings.hive.homeInterval.nanosecondsInt64
        return c.open && !(hive.refusedBy[c.cell].map { now.nanoseconds(since: $0) < refusalWindow } ?? false)
    }

    /// The cell whose live queen (not us) is nearest by coordinates among those `matching`
    /// (ties: the lowest cell id).
    func nearestCell(matching: (QueenClaim) -> Bool) -> QueenClaim? {
        nearestCells(1, matching: matching).first
    }

    /// The `count` cells whose live queens (not us) are nearest by coordinates among those
    /// `matching`, nearest first (ties: the lowest cell id).
    func nearestCells(_ count: Int, matching: (QueenClaim) -> Bool) -> [QueenClaim] {
        var found: [(claim: QueenClaim, rtt: Double)] = []
        for c in hive.cells.values {
            guard !c.dissolved, c.queen != me.id, table[c.queen]?.member.status == .alive, matching(c) else { continue }
            found.append((c, vivaldi.coordinate.distance(to: c.coordinate)))
        }
        found.sort { ($0.rtt, $0.claim.cell) < ($1.rtt, $1.claim.cell) }
        return found.prefix(count).map(\.claim)
    }

    mutating func found() {
        let cell = CellID(hiveRng.next())
        hive.cell = cell
        hive.term = 1
        noteVote(cell: cell, term: 1, candidate: me.id)
        hive.roster = Roster(cell: cell, version: RosterVersion(term: 1, index: 1), voters: [voter])
        hive.committed = hive.roster!.version
        hive.foundAt = nil
        hive.enlisting = nil
        becomeQueen(founded: true)
    }

    // MARK: Queens

    mutating func becomeQueen(founded: Bool) {
        guard let cell = hive.cell, var roster = hive.roster else { return }
        hive.role = .queen
        hive.queen = me.id
        hive.electedAt = now
        hive.lastQueenAt = now
        hive.leaseUntil = nil
        hive.round = 0
        hive.roundSentAt = [:]
        hive.pending = []
        hive.split = nil
        hive.farewell = []
        hive.lowSince = nil
        hive.acked = [:]
        for v in roster.voters where v.id != me.id { hive.acked[v.id] = (0, .zero, now) }
        if !founded {
            // Commit an entry of our own term before any roster change (Raft's no-op).
            roster.version = RosterVersion(term: hive.term, index: roster.version.index + 1)
            hive.roster = roster
            stats.electionsWon += 1
        }
        emit(.hive(founded ? .founded(cell: cell, term: hive.term) : .elected(cell: cell, term: hive.term)))
        publishClaim()
        sendHeartbeatRound()
        armHeartbeat(at: now + settings.hive.heartbeatInterval)
    }

    mutating func onHeartbeatTick() {
        hive.heartbeatArmed = false
        guard hive.role == .queen, phase == .active, let roster = hive.roster else { return }
        // Check-quorum: without a majority-acknowledged round for a minimum election timeout,
        // workers may be electing someone else: step down.
        if roster.count > 1 {
            let lastQuorum =
                hive.leaseUntil.map { $0.advanced(byNanoseconds: -settings.hive.leaseNanoseconds) } ?? hive.electedAt
            if now.nanoseconds(since: lastQuorum) > settings.hive.electionTimeoutMin.nanosecondsInt64 {
                stepDown(reason: "lost quorum")
                return
            }
        }
        dropSilentVoters()
        finishSplit()
        if considerMerge() { return }
        considerSplit()
        applyNextChange()
        sendHeartbeatRound()
        let size = UInt32(hive.roster?.count ?? 0)
        let sizeMoved = abs(Int(size) - Int(hive.claimedSize)) >= max(2, Int(hive.claimedSize) / 4)
        let openChanged =
            (size < UInt32(settings.hive.cellHighWater)) != (hive.claimedSize < UInt32(settings.hive.cellHighWater))
        if sizeMoved || openChanged
            || now.nanoseconds(since: hive.claimedAt) >= settings.hive.claimRefresh.nanosecondsInt64
        {
            publishClaim()
        }
        armHeartbeat(at: now + settings.hive.heartbeatInterval)
    }

    mutating func sendHeartbeatRound() {
        guard hive.role == .queen, let cell = hive.cell, let roster = hive.roster else { return }
        hive.round += 1
        let round = hive.round
        hive.roundSentAt[round] = now
        hive.roundSentAt[round &- 64] = nil
        stats.heartbeatsSent += 1
        let signature = sign(
            SignedClaim.heartbeat(cell: cell, term: hive.term, round: round, version: roster.version, queen: me.id))
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            let behind = (hive.acked[v.id]?.version ?? .zero) < roster.version
            let message = Message.hive(
                .heartbeat(
                    cell: cell, term: hive.term, round: round, version: roster.version,
                    roster: behind ? roster.voters : nil, signature: signature))
            sendHive(message, to: m.peer)
        }
        // Voters just removed hear it at once (a split's hear where to go) rather than
        // waiting for their queen's silence; a split's removed voters hear it again every
        // other round until their new cell is seen.
        let farewell = hive.farewell
        hive.farewell = []
        for v in farewell {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            if let split = hive.split, split.voters.contains(v) {
                sendBreed(split, cell: cell, to: m.peer)
            } else {
                sendHive(
                    .hive(
                        .heartbeat(
                            cell: cell, term: hive.term, round: round, version: roster.version, roster: roster.voters,
                            signature: signature)), to: m.peer)
            }
        }
        if let split = hive.split, round % 2 == 0, hive.cells[split.cell] == nil {
            for v in split.voters where !roster.contains(v) && !farewell.contains(v) {
                guard let m = table[v.id]?.member, m.status.isLive else { continue }
                sendBreed(split, cell: cell, to: m.peer)
            }
        }
        onAcknowledgements()
    }

    mutating func sendBreed(_ split: HiveState.Split, cell: CellID, to peer: Peer) {
        let signature = sign(
            SignedClaim.breed(
                cell: cell, term: hive.term, newCell: split.cell, designate: split.designate.id, voters: split.voters,
                queen: me.id))
        sendHive(
            .hive(
                .breed(
                    cell: cell, term: hive.term, newCell: split.cell, designate: split.designate.id,
                    voters: split.voters, signature: signature)), to: peer)
    }

    /// A hive message as a datagram, or a stream frame if it outgrew one (a large roster).
    mutating func sendHive(_ message: Message, to peer: Peer) {
        let packet = Packet(from: me.id, message: message)
        if Wire.size(of: packet) > settings.maxDatagramBytes {
            out.append(.send(packet, to: peer, via: .stream))
        } else {
            sendDatagram(message, to: peer)
        }
    }

    /// What a majority of the roster acknowledged (we acknowledge our own rounds and roster
    /// as we send them): the lease runs from that round; that roster is committed, and the
    /// next queued change may follow.
    mutating func onAcknowledgements() {
        guard let roster = hive.roster else { return }
        let r = majorityValue(roster) { v in v.id == me.id ? hive.round : hive.acked[v.id]?.round ?? 0 }
        if r > 0, let sent = hive.roundSentAt[r] {
            let until = sent.advanced(byNanoseconds: settings.hive.leaseNanoseconds)
            if hive.leaseUntil.map({ until > $0 }) ?? true { hive.leaseUntil = until }
        }
        let committed = majorityValue(roster) { v in v.id == me.id ? roster.version : hive.acked[v.id]?.version ?? .zero
        }
        if committed >= roster.version && committed > hive.committed {
            hive.committed = roster.version
            if !hive.pending.isEmpty, applyNextChange() { sendHeartbeatRound() }
        }
    }

    /// The highest value a majority of the roster has reached.
    func majorityValue<T: Comparable>(_ roster: Roster, _ value: (Voter) -> T) -> T {
        roster.voters.map(value).sorted(by: >)[roster.majority - 1]
    }

    /// Apply the next queued roster change if the current roster is committed and of our
    /// own term (one voter at a time, Raft's single-server changes). True if one was applied.
    @discardableResult
    mutating func applyNextChange() -> Bool {
        guard hive.role == .queen, var roster = hive.roster, hive.committed == roster.version,
            roster.version.term == hive.term
        else { return false }
        while !hive.pending.isEmpty {
            let change = hive.pending.removeFirst()
            if change.add {
                guard !roster.contains(change.voter), roster.count < settings.hive.cellHighWater else { continue }
                roster.insert(change.voter)
                hive.acked[change.voter.id] = (0, .zero, now)
            } else {
                guard roster.contains(change.voter), change.voter.id != me.id else { continue }
                roster.remove(change.voter)
                hive.acked[change.voter.id] = nil
                hive.farewell.append(change.voter)
            }
            roster.version = RosterVersion(term: hive.term, index: roster.version.index + 1)
            hive.roster = roster
            // A one-voter roster commits as it is made.
            if roster.count == 1 { hive.committed = roster.version }
            return true
        }
        return false
    }

    mutating func queueChange(add: Bool, _ v: Voter) {
        guard !hive.pending.contains(where: { $0.add == add && $0.voter == v }) else { return }
        hive.pending.append((add, v))
    }

    /// Workers that are gone (dead, left, revoked) or silent for `workerTimeout` leave the roster.
    mutating func dropSilentVoters() {
        guard let roster = hive.roster else { return }
        let timeout = settings.hive.workerTimeout.nanosecondsInt64
        for v in roster.voters where v.id != me.id {
            // A voter we have not heard of yet (news of it still spreading) is not gone: it
            // goes only if it stays silent.
            let gone = table[v.id]?.member.status.isGone == true || isExcluded(v.id)
            let silent = hive.acked[v.id].map { now.nanoseconds(since: $0.at) > timeout } ?? true
            if gone || silent { queueChange(add: false, v) }
        }
    }

    mutating func stepDown(reason: String) {
        guard hive.role == .queen, let cell = hive.cell else { return }
        hive.role = .worker
        hive.queen = nil
        hive.leaseUntil = nil
        hive.heardQueenAt = nil
        hive.lastQueenAt = now
        hive.pending = []
        hive.split = nil
        hive.farewell = []
        emit(.hive(.steppedDown(cell: cell, term: hive.term, reason: reason)))
        armElection(at: now.advanced(byNanoseconds: randomElectionTimeout()))
    }

    mutating func publishClaim(dissolved: Bool = false) {
        guard let cell = hive.cell, let roster = hive.roster else { return }
        hive.claimSerial += 1
        let size = dissolved ? 0 : UInt32(roster.count)
        var claim = QueenClaim(
            cell: cell, term: hive.term, queen: me.id, address: me.address, serial: hive.claimSerial,
            size: size, open: !dissolved && roster.count < settings.hive.cellHighWater, coordinate: vivaldi.coordinate)
        claim.signature = sign(SignedClaim.queen(claim))
        hive.claimedAt = now
        hive.claimedSize = size
        adopt(claim)
    }

    /// Hold `c` as its cell's claim and spread it: down the queens' tree once the hive
    /// stands (see `BroadcastID.claim`). A claim that tells members outside any cell
    /// (joiners, the homeless) where to enlist — a new cell, a new queen, a cell that filled
    /// or opened — also goes by gossip, which reaches them. Refreshes, size changes and
    /// dissolutions only take the tree (and lazy push and grafts to the rest): the cell's own
    /// workers hear a dissolution from their queen, and one who enlists with a dissolved cell
    /// is refused and looks again.
    mutating func adopt(_ c: QueenClaim) {
        let previous = hive.cells.updateValue(c, forKey: c.cell)
        enqueue(.queen(c))
        let news = previous.map { $0.term < c.term || $0.open != c.open || $0.queen != c.queen } ?? true
        if routing && news && !c.dissolved {
            queue.enqueue(.queen(c))
            armGossip()
        }
    }

    // MARK: Claims (news)

    /// To a joiner, with the join reply: every live cell's claim, so it enlists with one
    /// rather than founding its own before the next claim refresh reaches it.
    mutating func sendCells(to peer: Peer) {
        guard hiveOn else { return }
        let claims = hive.cells.keys.sorted().compactMap { c in
            hive.cells[c].flatMap { $0.dissolved ? nil : Update.queen($0) }
        }
        if !claims.isEmpty {
            out.append(.send(Packet(from: me.id, message: .gossip, updates: claims), to: peer, via: .stream))
        }
    }

    mutating func applyQueenClaim(_ c: QueenClaim) {
        guard c.term < maxCounter, c.serial < maxCounter, c.coordinate.isValid else {
            stats.recordsInvalid += 1
            return
        }
        if let old = hive.cells[c.cell], !c.supersedes(old) {
            stats.redundantUpdates += 1
            return
        }
        guard c.queen != me.id || hive.cells[c.cell] == nil else {
            // Our own claim, older than what we hold (we are its only author).
            stats.redundantUpdates += 1
            return
        }
        guard verified(c.signature, of: SignedClaim.queen(c), origin: c.queen) else { return }
        adopt(c)
        if c.dissolved, c.cell == hive.cell, c.term >= hive.term, hive.role != .queen {
            // Our queen dissolved the cell and her abdication did not reach us.
            leaveCell(reason: "the queen dissolved the cell", notify: false)
        }
    }

    // MARK: Messages

    mutating func onHive(_ message: HiveMessage, from sender: Peer) {
        guard hiveOn, let from = sender.id else { return }
        switch message {
        case .heartbeat(let cell, let term, let round, let version, let voters, let signature):
            onHeartbeat(
                cell: cell, term: term, round: round, version: version, voters: voters, signature: signature,
                from: from, peer: sender)
        case .heartbeatAck(let cell, let term, let round, let version, let boot, let coordinate):
            onHeartbeatAck(
                cell: cell, term: term, round: round, version: version, voter: Voter(id: from, boot: boot),
                coordinate: coordinate)
        case .depose(let cell, let term, let signature):
            guard hive.role == .queen, cell == hive.cell, term == hive.term, from != me.id,
                table[from]?.member.status.isLive == true, !isGraylisted(from),
                verified(signature, of: SignedClaim.depose(cell: cell, term: term, by: from), origin: from)
            else { return }
            deposeSelf(reason: "deposed by \(table[from]?.member.name ?? from.description)")
        case .accuse(let cell, let accusation):
            onAccuse(cell: cell, accusation: accusation, from: from)
        case .lift(_, let evicted, let signature):
            onLift(evicted: evicted, signature: signature, from: from)
        case .breed(let cell, let term, let newCell, let designate, let voters, let signature):
            onBreed(
                cell: cell, term: term, newCell: newCell, designate: designate, voters: voters, signature: signature,
                from: from)
        case .preVote(let cell, let term, let version, let boot):
            let granted = wouldVote(cell: cell, term: term, version: version, candidate: Voter(id: from, boot: boot))
            sendDatagram(.hive(.preVoteReply(cell: cell, term: term, granted: granted)), to: sender)
        case .preVoteReply(let cell, let term, let granted):
            guard granted, hive.role == .preCandidate, cell == hive.cell, term == hive.term + 1,
                let roster = hive.roster, roster.voter(for: from) != nil
            else { return }
            hive.votes.insert(from)
            if hive.votes.count >= roster.majority { startElection() }
        case .requestVote(let cell, let term, let version, let boot, let signature):
            onRequestVote(
                cell: cell, term: term, version: version, candidate: Voter(id: from, boot: boot), signature: signature,
                peer: sender)
        case .vote(let cell, let term, let candidate, let granted, let boot, let signature):
            onVote(
                cell: cell, term: term, candidate: candidate, granted: granted, voter: Voter(id: from, boot: boot),
                signature: signature)
        case .enlist(let cell, let boot):
            onEnlist(cell: cell, voter: Voter(id: from, boot: boot), peer: sender)
        case .enlisted(let cell, _, let accepted):
            guard hive.role == .homeless, hive.enlisting?.cell == cell else { return }
            if !accepted {
                hive.refusedBy[cell] = now
                hive.enlisting = nil
                // Try the next nearest now rather than at the next look.
                armHome(at: now.advanced(byNanoseconds: settings.hive.heartbeatInterval.nanosecondsInt64 / 2))
            }
        case .release(let cell, let boot):
            guard hive.role == .queen, cell == hive.cell else { return }
            let v = Voter(id: from, boot: boot)
            if hive.roster?.contains(v) == true {
                queueChange(add: false, v)
                if applyNextChange() { sendHeartbeatRound() }
            }
        case .abdicate(let cell, let term, let dissolve):
            guard cell == hive.cell, term >= hive.term, hive.queen == from, hive.role != .queen else { return }
            if dissolve {
                leaveCell(reason: "the queen dissolved the cell", notify: false)
            } else {
                hive.queen = nil
                hive.heardQueenAt = nil
                armElection(at: now.advanced(byNanoseconds: randomElectionTimeout() / 4))
            }
        }
    }

    mutating func onHeartbeat(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, voters: [Voter]?, signature: Signature?,
        from: NodeID, peer: Peer
    ) {
        if cell != hive.cell {
            // A queen admitting us (we asked), or one that still counts us: tell her we left.
            guard let voters, voters.contains(voter) else { return }
            if hive.role == .homeless, hive.enlisting?.cell == cell {
                guard
                    verified(
                        signature,
                        of: SignedClaim.heartbeat(cell: cell, term: term, round: round, version: version, queen: from),
                        origin: from)
                else { return }
                hive.cell = cell
                hive.term = term
                // Joining in `term`, whose queen is `from`: count it as our vote, so we cannot
                // help elect anyone else in a term we may already have voted in.
                noteVote(cell: cell, term: term, candidate: from)
                hive.roster = Roster(cell: cell, version: version, voters: voters)
                hive.enlisting = nil
                hive.refusedBy = [:]
            } else {
                sendDatagram(.hive(.release(cell: cell, boot: boot)), to: peer)
                return
            }
        } else {
            guard
                verified(
                    signature,
                    of: SignedClaim.heartbeat(cell: cell, term: term, round: round, version: version, queen: from),
                    origin: from)
            else { return }
            if term < hive.term {
                sendDatagram(
                    .hive(
                        .heartbeatAck(
                            cell: cell, term: hive.term, round: round, version: hive.roster?.version ?? .zero,
                            boot: boot, coordinate: nil)), to: peer)
                return
            }
            if term > hive.term {
                hive.term = term
            }
            if hive.role == .queen {
                // Only another term's queen can reach here (one queen per term).
                stepDown(reason: "a newer queen")
            }
            if let voters, var roster = hive.roster, version > roster.version {
                roster = Roster(cell: cell, version: version, voters: voters)
                hive.roster = roster
            }
        }
        let accepted = hive.queen != from || hive.role == .homeless
        hive.role = .worker
        hive.queen = from
        hive.heardQueenAt = now
        hive.lastQueenAt = now
        hive.votes = []
        if hive.roster?.contains(voter) != true {
            leaveCell(reason: "removed from the roster", notify: false)
            return
        }
        armElection(at: now.advanced(byNanoseconds: randomElectionTimeout()))
        if accepted {
            emit(.hive(.accepted(cell: cell, term: hive.term, queen: from)))
            // Broadcasts pushed while we had no queen (an election, a split, re-homing) reached
            // us only if lazy push did: catch up with the new queen at once instead of waiting
            // for anti-entropy to pick her.
            startStateSync(with: peer)
        }
        // Our coordinate now and then (about once a second), and on accepting a queen: she
        // splits her cell by them.
        let coordinate = accepted || round % 20 == 1 ? vivaldi.coordinate : nil
        sendDatagram(
            .hive(
                .heartbeatAck(
                    cell: cell, term: hive.term, round: round, version: hive.roster!.version, boot: boot,
                    coordinate: coordinate)), to: peer)
    }

    mutating func onHeartbeatAck(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, voter v: Voter, coordinate: Coordinate?
    ) {
        guard hive.role == .queen, cell == hive.cell else { return }
        if term > hive.term {
            hive.term = term
            stepDown(reason: "a newer term")
            return
        }
        guard term == hive.term, hive.roster?.contains(v) == true, round <= hive.round else { return }
        let old = hive.acked[v.id]
        hive.acked[v.id] = (max(round, old?.round ?? 0), max(version, old?.version ?? .zero), now)
        if let coordinate, coordinate.isValid, coordinate.vec.count == Coordinate.dimensions {
            peerCoordinates[v.id] = coordinate
        }
        onAcknowledgements()
    }

    // MARK: Elections

    mutating func onElectionTick() {
        hive.electionArmed = false
        guard hiveOn, phase == .active, let deadline = hive.electionDeadline,
            [.worker, .preCandidate, .candidate].contains(hive.role)
        else { return }
        if now < deadline {
            armElection(at: deadline)
            return
        }
        if now.nanoseconds(since: hive.lastQueenAt) > settings.hive.abandonAfter.nanosecondsInt64 {
            // No queen for this long: the cell's majority is gone (or we are cut off).
            leaveCell(reason: "no queen", notify: true)
            return
        }
        guard eligibleForQueen, let roster = hive.roster, roster.contains(voter) else {
            hive.role = .worker
            armElection(at: now.advanced(byNanoseconds: randomElectionTimeout()))
            return
        }
        // Pre-vote (Raft thesis §9.6): ask without raising the term, so a member cut off
        // from its cell cannot force a healthy cell into a new election.
        hive.role = .preCandidate
        hive.votes = [me.id]
        armElection(at: now.advanced(byNanoseconds: randomElectionTimeout()))
        if roster.majority <= 1 {
            startElection()
            return
        }
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            sendDatagram(
                .hive(.preVote(cell: roster.cell, term: hive.term + 1, version: roster.version, boot: boot)), to: m.peer
            )
        }
    }

    /// Would this member vote for `candidate` in `term`? (Pre-votes ask exactly this.)
    mutating func wouldVote(cell: CellID, term: UInt64, version: RosterVersion, candidate: Voter) -> Bool {
        guard cell == hive.cell, let roster = hive.roster, roster.contains(candidate), term > hive.term,
            version >= roster.version, !queenRecentlyHeard, !holdsLease, !isGraylisted(candidate.id)
        else { return false }
        if let last = lastVotes[cell], last.term >= term { return false }
        return true
    }

    mutating func startElection() {
        guard let roster = hive.roster, let cell = hive.cell else { return }
        hive.term += 1
        hive.role = .candidate
        hive.votes = [me.id]
        hive.queen = nil
        noteVote(cell: cell, term: hive.term, candidate: me.id)
        stats.electionsStarted += 1
        armElection(at: now.advanced(byNanoseconds: randomElectionTimeout()))
        if roster.majority <= 1 {
            becomeQueen(founded: false)
            return
        }
        let signature = sign(
            SignedClaim.requestVote(cell: cell, term: hive.term, candidate: me.id, version: roster.version))
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            sendDatagram(
                .hive(
                    .requestVote(cell: cell, term: hive.term, version: roster.version, boot: boot, signature: signature)
                ), to: m.peer)
        }
    }

    mutating func onRequestVote(
        cell: CellID, term: UInt64, version: RosterVersion, candidate: Voter, signature: Signature?, peer: Peer
    ) {
        guard cell == hive.cell, let roster = hive.roster, roster.contains(candidate) else { return }
        guard
            verified(
                signature,
                of: SignedClaim.requestVote(cell: cell, term: term, candidate: candidate.id, version: version),
                origin: candidate.id)
        else { return }
        // Within the stickiness window (or holding the lease) the request is ignored outright,
        // its term included (Raft thesis §4.2.3): a removed or cut-off member cannot disrupt.
        var granted = false
        if !queenRecentlyHeard && !holdsLease {
            if term > hive.term {
                hive.term = term
                if hive.role == .queen { stepDown(reason: "a newer term") }
                if hive.role == .candidate || hive.role == .preCandidate { hive.role = .worker }
                hive.queen = nil
            }
            if term == hive.term, mayVote(cell: cell, term: term, for: candidate.id),
                version >= roster.version, !isGraylisted(candidate.id)
            {
                granted = true
                noteVote(cell: cell, term: term, candidate: candidate.id)
                armElection(at: now.advanced(byNanoseconds: randomElectionTimeout()))
            }
        }
        let signatureOut = sign(
            SignedClaim.vote(cell: cell, term: hive.term, candidate: candidate.id, voter: me.id, granted: granted))
        sendDatagram(
            .hive(
                .vote(
                    cell: cell, term: hive.term, candidate: candidate.id, granted: granted, boot: boot,
                    signature: signatureOut)), to: peer)
    }

    mutating func onVote(
        cell: CellID, term: UInt64, candidate: NodeID, granted: Bool, voter v: Voter, signature: Signature?
    ) {
        guard cell == hive.cell, candidate == me.id, let roster = hive.roster else { return }
        if term > hive.term {
            hive.term = term
            if hive.role == .queen { stepDown(reason: "a newer term") } else { hive.role = .worker }
            return
        }
        guard hive.role == .candidate, term == hive.term, granted, roster.contains(v),
            verified(
                signature,
                of: SignedClaim.vote(cell: cell, term: term, candidate: candidate, voter: v.id, granted: granted),
                origin: v.id)
        else { return }
        hive.votes.insert(v.id)
        if hive.votes.count >= roster.majority { becomeQueen(founded: false) }
    }

    /// This run cast no vote in `cell` for anyone else in `term`, nor in any later term (its
    /// only record of votes: `lastVotes`, kept when it leaves the cell).
    func mayVote(cell: CellID, term: UInt64, for candidate: NodeID) -> Bool {
        guard let last = lastVotes[cell] else { return true }
        return last.term < term || (last.term == term && last.candidate == candidate)
    }

    /// The vote this run cast per cell, kept when it leaves the cell (a member that comes
    /// back must not vote twice in one term).
    mutating func noteVote(cell: CellID, term: UInt64, candidate: NodeID) {
        if let last = lastVotes[cell], last.term > term { return }
        lastVotes[cell] = (term, candidate)
    }

    // MARK: Membership of cells

    mutating func onEnlist(cell: CellID, voter v: Voter, peer: Peer) {
        guard hive.role == .queen, cell == hive.cell, let roster = hive.roster else {
            // Not (or no longer) that cell's queen: say so, so the member tries another.
            sendDatagram(.hive(.enlisted(cell: cell, term: 0, accepted: false)), to: peer)
            return
        }
        let live = table[v.id]?.member.status == .alive && !isExcluded(v.id)
        let adds = hive.pending.filter(\.add).count
        var accepted =
            live && phase == .active && (roster.contains(v) || roster.count + adds < settings.hive.cellHighWater)
        if accepted {
            if roster.contains(v) {
                // Lost our first heartbeat: send the roster again.
                hive.acked[v.id] = (hive.acked[v.id]?.round ?? 0, .zero, now)
            } else {
                if let old = roster.voter(for: v.id) {
                    if old.boot > v.boot { accepted = false } else { queueChange(add: false, old) }
                }
                if accepted {
                    queueChange(add: true, v)
                    if applyNextChange() { sendHeartbeatRound() }
                }
            }
        }
        sendDatagram(.hive(.enlisted(cell: cell, term: hive.term, accepted: accepted)), to: peer)
    }

    /// Leave the cell (telling the queen if `notify`), and look for another.
    mutating func leaveCell(reason: String, notify: Bool) {
        guard let cell = hive.cell else { return }
        if hive.role == .queen {
            stepDown(reason: reason)
        }
        if notify, let q = hive.queen, let m = table[q]?.member, m.status.isLive {
            sendDatagram(.hive(.release(cell: cell, boot: boot)), to: m.peer)
        }
        hive.role = .homeless
        hive.cell = nil
        hive.roster = nil
        hive.queen = nil
        hive.term = 0
        hive.votes = []
        hive.heardQueenAt = nil
        hive.electionDeadline = nil
        emit(.hive(.leftCell(cell: cell, reason: reason)))
        // Look for a cell soon (spread, as a dissolved cell's members all leave at once).
        let soon = max(1, Int(settings.hive.homeInterval.nanosecondsInt64 / 20))
        if phase == .active { armHome(at: now.advanced(byNanoseconds: Int64(hiveRng.below(soon)))) }
    }

    /// Leaving the swarm: a queen hands over at once; a worker tells its queen.
    mutating func hiveLeave() {
        guard hiveOn, hive.cell != nil else { return }
        if hive.role == .queen, let roster = hive.roster {
            abdicate(dissolve: roster.count <= 2, reason: "leaving the swarm")
        } else {
            leaveCell(reason: "leaving the swarm", notify: true)
        }
    }

    /// As queen, step down at once and leave the cell: its voters elect a successor without
    /// waiting out the lease, or with `dissolve` the cell ends and they enlist elsewhere.
    mutating func abdicate(dissolve: Bool, reason: String) {
        guard hive.role == .queen, let cell = hive.cell, let roster = hive.roster else { return }
        hive.leaseUntil = nil
        for v in roster.voters where v.id != me.id {
            guard let m = table[v.id]?.member, m.status.isLive else { continue }
            sendDatagram(.hive(.abdicate(cell: cell, term: hive.term, dissolve: dissolve)), to: m.peer)
        }
        if dissolve { publishClaim(dissolved: true) }
        leaveCell(reason: reason, notify: false)
    }

    // MARK: Deposing

    /// `colony hive depose`: the queen of `cell` (default: this node's) abdicates — at once
    /// if she is this node, else by a signed order sent to her — and sits out elections for
    /// ten maximum election timeouts, so another member is elected.
    public mutating func depose(cell: CellID? = nil, now: Instant) -> (Result<Deposal, DeposeError>, [Effect]) {
        advance(to: now)
        guard hiveOn else { return (.failure(.hiveOff), flush()) }
        guard let target = cell ?? hive.cell else { return (.failure(.noQueen(nil)), flush()) }
        if target == hive.cell, hive.role == .queen {
            let d = Deposal(cell: target, term: hive.term, queen: me.id, local: true)
            deposeSelf(reason: "deposed by an operator")
            return (.success(d), flush())
        }
        let queen: (id: NodeID, term: UInt64)?
        if target == hive.cell, let q = hive.queen {
            queen = (q, hive.term)
        } else if let c = hive.cells[target], !c.dissolved {
            queen = (c.queen, c.term)
        } else {
            queen = nil
        }
        guard let queen, let m = table[queen.id]?.member, m.status.isLive else {
            return (.failure(.noQueen(target)), flush())
        }
        let signature = sign(SignedClaim.depose(cell: target, term: queen.term, by: me.id))
        sendDatagram(.hive(.depose(cell: target, term: queen.term, signature: signature)), to: m.peer)
        return (.success(Deposal(cell: target, term: queen.term, queen: queen.id, local: false)), flush())
    }

    mutating func deposeSelf(reason: String) {
        guard hive.role == .queen, let roster = hive.roster else { return }
        hive.sitOutUntil = now.advanced(byNanoseconds: 10 * settings.hive.electionTimeoutMax.nanosecondsInt64)
        // A cell of one or two cannot elect without her: it ends instead.
        abdicate(dissolve: roster.count <= 2, reason: reason)
    }

    // MARK: Breeding and merging

    /// A full cell breeds: the queen picks the eligible worker that best splits her cell by
    /// coordinates (the two halves nearest their queens), and removes about half her voters
    /// one at a time, the designate last; each removed voter is sent to the new cell, whose
    /// members elect the designate (she campaigns as soon as she arrives; the others wait
    /// a maximum election timeout first).
    mutating func considerSplit() {
        guard hive.role == .queen, hive.split == nil, let cell = hive.cell, let roster = hive.roster,
            roster.count >= max(4, settings.hive.cellHighWater), hive.pending.isEmpty,
            hive.committed == roster.version, roster.version.term == hive.term, holdsLease
        else { return }
        let fresh = 3 * settings.hive.heartbeatInterval.nanosecondsInt64
        let mine = vivaldi.coordinate
        let workers = roster.voters.filter { $0.id != me.id }
        let eligible = workers.filter { v in
            table[v.id]?.member.status == .alive && !isGraylisted(v.id) && !isExcluded(v.id)
                && peerCoordinates[v.id] != nil
                && (hive.acked[v.id].map { now.nanoseconds(since: $0.at) <= fresh } ?? false)
        }
        let half = roster.count / 2
        var best: (cost: Double, designate: Voter, voters: [Voter])?
        for d in eligible {
            let dc = peerCoordinates[d.id]!
            // The others by how much nearer the designate than us they are; the nearest half go.
            let ranked = workers.filter { $0 != d }.map { w -> (voter: Voter, toNew: Double, toOld: Double) in
                guard let c = peerCoordinates[w.id] else { return (w, 0, 0) }
                return (w, c.distance(to: dc), c.distance(to: mine))
            }.sorted { ($0.toNew - $0.toOld, $0.voter) < ($1.toNew - $1.toOld, $1.voter) }
            let moving = ranked.prefix(half - 1)
            let cost = moving.reduce(0) { $0 + $1.toNew } + ranked.dropFirst(half - 1).reduce(0) { $0 + $1.toOld }
            if best.map({ cost < $0.cost }) ?? true { best = (cost, d, [d] + moving.map(\.voter)) }
        }
        guard let best else { return }
        let newCell = CellID(hiveRng.next())
        hive.split = HiveState.Split(cell: newCell, designate: best.designate, voters: best.voters.sorted(), at: now)
        for v in best.voters where v != best.designate { queueChange(add: false, v) }
        queueChange(add: false, best.designate)
        emit(
            .hive(.splitting(cell: cell, newCell: newCell, designate: best.designate.id, voters: best.voters.map(\.id)))
        )
    }

    /// The split is over once its voters are off our roster and their cell is seen (or, if
    /// its claim never reaches us, after a few election timeouts).
    mutating func finishSplit() {
        guard let split = hive.split, let roster = hive.roster else { return }
        let removed = !split.voters.contains(where: roster.contains) && hive.committed == roster.version
        let seen = hive.cells[split.cell] != nil
        if removed && (seen || now.nanoseconds(since: split.at) > 4 * settings.hive.electionTimeoutMax.nanosecondsInt64)
        {
            hive.split = nil
        }
    }

    /// A worker sent to a new cell by its queen: it joins the new cell's roster (the same at
    /// every voter), and the designate campaigns at once.
    mutating func onBreed(
        cell: CellID, term: UInt64, newCell: CellID, designate: NodeID, voters: [Voter], signature: Signature?,
        from: NodeID
    ) {
        guard cell == hive.cell, term == hive.term, hive.queen == from, from != me.id,
            hive.role == .worker || hive.role == .preCandidate, newCell != cell, hive.cells[newCell] == nil,
            voters.count <= settings.hive.cellHighWater, voters.contains(voter),
            voters.contains(where: { $0.id == designate }),
            verified(
                signature,
                of: SignedClaim.breed(
                    cell: cell, term: term, newCell: newCell, designate: designate, voters: voters, queen: from),
                origin: from)
        else { return }
        emit(.hive(.leftCell(cell: cell, reason: "bred into cell \(newCell)")))
        hive.role = .worker
        hive.cell = newCell
        hive.term = 0
        hive.queen = nil
        hive.roster = Roster(cell: newCell, version: RosterVersion(term: 0, index: 1), voters: voters)
        hive.votes = []
        hive.heardQueenAt = nil
        hive.lastQueenAt = now
        if designate == me.id {
            startElection()
        } else {
            armElection(
                at: now.advanced(
                    byNanoseconds: settings.hive.electionTimeoutMax.nanosecondsInt64 + randomElectionTimeout()))
        }
    }

    /// A cell below its low-water mark for `mergeAfter` dissolves when another cell at least
    /// its size (ties: the higher id, so two small cells do not both dissolve) has room for
    /// all its members; they enlist with the open cells nearest them. True if it dissolved.
    mutating func considerMerge() -> Bool {
        guard hive.role == .queen, hive.split == nil, let cell = hive.cell, let roster = hive.roster else {
            return false
        }
        guard roster.count < settings.hive.lowWaterMark else {
            hive.lowSince = nil
            return false
        }
        guard let since = hive.lowSince else {
            hive.lowSince = now
            return false
        }
        guard now.nanoseconds(since: since) >= settings.hive.mergeAfter.nanosecondsInt64 else { return false }
        let size = UInt32(roster.count)
        let target = hive.cells.values.contains { c in
            c.cell != cell && c.open && !c.dissolved && c.queen != me.id && table[c.queen]?.member.status == .alive
                && (c.size > size || (c.size == size && c.cell > cell))
                && Int(c.size) + roster.count < settings.hive.cellHighWater
        }
        guard target else { return false }
        abdicate(dissolve: true, reason: "merging: the cell fell below its low-water mark")
        return true
    }
}
