/// A member outside any cell looks for the nearest open one (or founds one); a worker
/// re-homes to a queen that answers clearly faster than its own (measured round trips).
extension NodeCore {
    // MARK: Homeless members

    mutating func onHomeTick() {
        guard let at = hive.homeAt, now >= at else { return }
        hive.homeAt = nil
        guard hiveOn, phase == .active else { return }
        if !trust.evictedNow.isEmpty { expireEvictions() }
        guard hive.role == .homeless else {
            if hive.role == .worker { considerRehome() }
            let jitter = hive.rng.duration(below: settings.hive.rehomeInterval / 4)
            armHome(at: now + settings.hive.rehomeInterval + jitter)
            return
        }
        armHome(at: now + settings.hive.homeInterval)
        let live = table.liveCount
        // Evicted: every queen refuses us until it ends.
        guard live >= settings.hive.minimumMembers, !isExcluded(me.id) else {
            hive.search.foundAt = nil
            return
        }
        if let e = hive.enlisting {
            // A queen answers within a round trip; one that has not by the next look is gone.
            if now - e.at < settings.hive.electionTimeoutMin { return }
            // Unanswered: its claim may be stale (a queen that lost her cell); try another.
            hive.refusedBy[e.cell] = now
        }
        hive.enlisting = nil
        if let target = nearestOpenCell() {
            hive.search.foundAt = nil
            enlist(with: target)
            return
        }
        guard eligibleForQueen else { return }
        if let at = hive.search.foundAt {
            if now >= at { found() }
        } else {
            let window = settings.hive.foundSpacing * max(1, min(live / 2, settings.hive.cellHighWater))
            hive.search.foundAt = now + hive.rng.duration(below: window)
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
            let fresh = settings.hive.rehomeMeasureInterval
            let unexplored = eligible.filter { c in
                !candidates.contains { $0.cell == c.cell }
                    && !(hive.nearness[c.queen]?.last.map { now - $0.at < fresh } ?? false)
            }.sorted { $0.cell < $1.cell }
            if !unexplored.isEmpty {
                let c = unexplored[hive.rng.below(unexplored.count)]
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
        let fresh = settings.hive.rehomeMeasureInterval
        if let s = hive.nearness[queen], s.count >= vivaldi.settings.latencyFilterSize, let last = s.last,
            now - last.at < fresh
        {
            return
        }
        measure(queen, at: peer)
    }

    /// Ping `queen` to time the round trip (unless a ping to it is in flight).
    mutating func measure(_ queen: NodeID, at peer: Peer) {
        if hive.nearPings.values.contains(where: { $0.peer == queen }) { return }
        let seq = membership.nextSeq()
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
    mutating func onNearnessAck(seq: UInt32, from sender: NodeID, coordinate: Coordinate?, attributed: Bool) -> Bool {
        guard let ping = hive.nearPings[seq], ping.peer == sender, attributed else { return false }
        hive.nearPings[seq] = nil
        let rtt = (now - ping.sentAt).inSeconds
        var s = hive.nearness[sender] ?? []
        s.append((rtt, now))
        s.removeFirst(max(0, s.count - vivaldi.settings.latencyFilterSize))
        hive.nearness[sender] = s
        if let c = coordinate { learnCoordinate(c, of: sender, rtt: rtt) }
        return true
    }

    /// Forget unanswered pings and samples of members that are no longer queens.
    mutating func pruneNearness() {
        let lost = settings.probeTimeout * 10
        hive.nearPings = hive.nearPings.filter { now - $0.value.sentAt < lost }
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
        let refusalWindow = settings.hive.homeInterval * 10
        return c.open && !(hive.refusedBy[c.cell].map { now - $0 < refusalWindow } ?? false)
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
        let cell = CellID(hive.rng.next())
        hive.noteVote(cell: cell, term: 1, candidate: me.id)
        let roster = Roster(cell: cell, version: RosterVersion(term: 1, index: 1), voters: [voter])
        hive.serve(in: Hive.Seat(cell: cell, term: 1, roster: roster, lastQueenAt: now))
        becomeQueen(founded: true)
    }
}
