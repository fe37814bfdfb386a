import HashTreeCollections

/// One Colony node's protocol state machine: SWIM + Lifeguard membership, piggyback and
/// gossip dissemination, and digest anti-entropy — pure and sans-IO (docs/design.md §1).
///
/// Inputs are values: `start`, `join`, `leave` (commands), `receive` (a packet, its source
/// address and the time), `tick` (time passed). Each returns the effects to carry out:
/// packets to send, events to emit, state to persist and when to wake it next. It reads no
/// clock, draws randomness only from the generator seeded at construction, and does no I/O,
/// so the simulator and the SwiftNIO driver run exactly the same code.
///
/// Protocol background (SWIM, Das et al. 2002; Lifeguard, Dadgar et al. 2018):
/// - Every protocol period a node probes one member, in randomised round-robin order (§4.3).
///   No ack within the probe timeout → `k` helpers probe it (ping-req); helpers that also
///   fail answer `nack`, so the prober can tell whether it is the slow one (Lifeguard §IV.A).
/// - A member nobody reaches is *suspect*; it refutes by raising its incarnation. Unrefuted
///   suspicion becomes *dead* after a timeout that shrinks with independent confirmations
///   (Lifeguard §IV.B). Pings to a suspect carry the suspicion, so it hears in time (buddy
///   system, Lifeguard §IV.C).
/// - News rides on pings, acks and gossip rounds, each item sent `mult·⌈log10(N+1)⌉` times.
/// - Anti-entropy over streams repairs what gossip missed and heals partitions; Colony
///   compares table digests first so the cost stays flat in N (docs/design.md §2).
package struct NodeCore: Sendable {
    public enum Phase: Sendable, Equatable {
        case created
        case active
        case leaving
        case left
    }

    public let settings: Settings
    public internal(set) var phase: Phase = .created
    public internal(set) var now: Instant
    /// The membership and gossip generator (probe order, helpers, gossip targets).
    var rng: Xoshiro256
    /// Every sub-machine's timers, in one queue so equal deadlines fire in scheduling order.
    var timers = TimerQueue()
    /// The effects of the input being handled, returned by `flush()`.
    var out: [Effect] = []

    // The sub-machines, each the owner of its state.
    var membership: Membership
    var dissemination: Dissemination
    var replicated: ReplicatedState
    var trust = Trust()
    public internal(set) var hive: Hive
    var router = Router()

    /// A node that knows only itself. `me.incarnation` must exceed every incarnation this
    /// identity used before (drivers persist it; see `Effect.persist`).
    public init(me: Member, settings: Settings, seed: UInt64, now: Instant) {
        self.init(me: me, settings: settings, seed: seed, now: now, knownMembers: nil)
    }

    /// A node that starts from a known table, e.g. a simulator's converged swarm (the table
    /// is shared structure, not copied). The table's entry for `me` is replaced by `me`.
    public init(me: Member, settings: Settings, seed: UInt64, now: Instant, knownMembers: MemberTable?) {
        var me = me
        me.status = .alive
        self.settings = settings
        self.rng = Xoshiro256(seed: seed)
        // Event and query ids start in a range no earlier run of this identity used (each
        // start has a higher incarnation), so they never repeat without being logged.
        self.replicated = ReplicatedState(
            rng: Xoshiro256(seed: SplitMix64.mix(seed ^ 0x57A7_E5EE_D000_0001)), eventCounter: me.incarnation << 32)
        self.hive = Hive(
            boot: me.incarnation, bootedAt: now, rng: Xoshiro256(seed: SplitMix64.mix(seed ^ 0x417E_C0DE_0000_0002)))
        self.now = now
        self.dissemination = Dissemination(
            queue: BroadcastQueue(
                maxEntries: settings.maxQueuedBroadcasts, largeThreshold: settings.maxDatagramBytes - 64))
        var table = knownMembers ?? MemberTable()
        if table[me.id]?.member != me { table.upsert(me, at: now) }
        self.membership = Membership(
            me: me, table: table, awareness: Awareness(max: settings.awarenessMaxMultiplier))
        if let known = knownMembers, known.count > 1 { membership.hasJoined = true }
    }

    // MARK: Reading the sub-machines (for drivers, the simulator and tests)

    /// Every sub-machine's counters.
    public var stats: CoreStats {
        CoreStats(
            membership: membership.stats, dissemination: dissemination.stats, state: replicated.stats,
            trust: trust.stats, hive: hive.stats, router: router.stats)
    }

    /// This member as it announces itself.
    public var me: Member { membership.me }
    public var table: MemberTable { membership.table }
    public var queue: BroadcastQueue { dissemination.queue }
    public var awareness: Awareness { membership.awareness }
    /// True once a join got an answer (or the node was built already knowing the swarm).
    public var hasJoined: Bool { membership.hasJoined }
    /// The seeds of the join in progress (empty once joined or never asked).
    public var joinSeeds: [Address] { membership.joinSeeds }
    public var state: StateStore { replicated.store }
    /// Own writes up to this counter are durable and may be sent.
    public var durableCounter: UInt64 { replicated.durableCounter }
    public var lamport: UInt64 { replicated.lamport }
    public var recentEvents: [UserEvent] { replicated.recentEvents }
    public var vivaldi: VivaldiClient { hive.vivaldi }
    public var peerCoordinates: [NodeID: Coordinate] { hive.peerCoordinates }
    /// The incarnation this process started with: its identity as a voter (Cell.swift).
    public var boot: UInt64 { hive.boot }
    /// Identities the authority revoked.
    public var revoked: Set<NodeID> { trust.revoked }
    /// Evictions the state holds, per evicted identity, per issuer (in force or not).
    public var evictions: [NodeID: [NodeID: Eviction]] { trust.evictions }

    // MARK: Inputs

    /// Arm the periodic timers. Probing starts at a random offset within one period, so
    /// nodes started together do not probe in lockstep.
    public mutating func start(now: Instant) -> [Effect] {
        advance(to: now)
        guard phase == .created else { return flush() }
        phase = .active
        out.append(.persist(.incarnation(me.incarnation)))
        timers.schedule(.membership(.probe), at: now + rng.duration(below: settings.probeInterval))
        let pp = settings.pushPullPeriod(members: table.liveCount)
        timers.schedule(.dissemination(.pushPull), at: now + pp / 2 + rng.duration(below: pp))
        let rc = settings.reconnectInterval
        timers.schedule(.dissemination(.reconnect), at: now + rc / 2 + rng.duration(below: rc))
        timers.schedule(.membership(.reap), at: now + settings.reapInterval)
        timers.schedule(.state(.collect), at: now + settings.reapInterval)
        let ss = settings.stateSyncPeriod(members: table.liveCount)
        timers.schedule(.state(.sync), at: now + ss / 2 + replicated.rng.duration(below: ss))
        startHive()
        return flush()
    }

    /// Join the swarm through seeds (addresses; ids unknown). Retries with backoff until a
    /// seed answers.
    public mutating func join(seeds: [Address], now: Instant) -> [Effect] {
        advance(to: now)
        guard phase == .active, !seeds.isEmpty else { return flush() }
        membership.joinSeeds = seeds
        membership.joinAttempt = 0
        attemptJoin()
        return flush()
    }

    /// Leave gracefully: broadcast `left` and stop probing; `leaveCompleted` is emitted once
    /// the news has been sent its retransmit limit or `leavePropagateTimeout` passed.
    public mutating func leave(now: Instant) -> [Effect] {
        advance(to: now)
        guard phase == .active else { return flush() }
        hiveLeave()
        phase = .leaving
        membership.probe = nil
        membership.me.status = .left
        signMe()
        membership.table.upsert(me, at: now)
        var local = Inbound.local
        enqueue(.left(id: me.id, incarnation: me.incarnation, signature: me.signature), &local)
        timers.schedule(.membership(.leaveTimeout), at: now + settings.leavePropagateTimeout)
        // Nobody live to tell (the count no longer includes us: we are `left`).
        if table.liveCount == 0 { completeLeave() }
        return flush()
    }

    /// A packet arrived from `source` (the address it came from) over `transport`; `bytes`
    /// is its size on the wire (for the byte rate limit; 0 skips it).
    /// A packet arrived from `source`. `sender` is what the driver's inbound gate proved about
    /// who sent it (`PacketSender`): a core with an identity (`authenticate(with:)`) takes only
    /// packets verified to the member they claim to come from.
    public mutating func receive(
        _ packet: Packet, from source: Address, sender authenticated: PacketSender,
        via transport: Transport = .datagram, bytes: Int = 0, now: Instant
    ) -> [Effect] {
        advance(to: now)
        guard phase == .active || phase == .leaving else { return flush() }
        guard packet.from != me.id else { return flush() }
        guard WireBounds.admits(packet) else {
            // Nobody honest sends it; nobody is blamed either (the sender may be spoofed).
            trust.stats.outOfRange += 1
            return flush()
        }
        if isExcluded(packet.from) {
            trust.stats.revokedRefused += 1
            // An evicted member's own alive claim is held back for when its eviction ends.
            for case .alive(let m) in packet.updates where m.id == packet.from { holdBack(m) }
            return flush()
        }
        guard let attributable = attribution(of: packet, from: source, sender: authenticated) else {
            // Not from whom it claims: dropped and counted, nobody blamed (the sender is unknown).
            trust.stats.unauthenticated += 1
            return flush()
        }
        guard admitRate(from: attributable ? packet.from : nil, bytes: bytes, via: transport) else { return flush() }
        var inbound = Inbound(sender: attributable ? packet.from : nil, ingress: .local)
        let graylisted = attributable && isGraylisted(packet.from)
        if graylisted, case .sync = packet.message {
            // Its anti-entropy carries news too: ignored like its gossip.
            trust.stats.graylistedUpdatesIgnored += 1
            return flush()
        }
        let mark = out.count
        trust.replyBudget = replyBudget(for: packet, from: source, attributable: attributable, via: transport)
        applyUpdates(of: packet, graylisted: graylisted, attributable: attributable, &inbound)
        let sender = Peer(id: packet.from, address: source)
        reviveIfDead(packet.from)
        switch packet.message {
        case .ping(let seq, let target):
            onPing(seq: seq, target: target, from: sender, via: transport)
        case .ack(let seq, let coordinate):
            onAck(seq: seq, from: packet.from, coordinate: coordinate, attributed: attributable)
        case .nack(let seq):
            onNack(seq: seq, from: packet.from)
        case .pingReq(let seq, let target, let targetAddress):
            onPingReq(seq: seq, target: target, targetAddress: targetAddress, requester: sender)
        case .gossip:
            break
        case .sync(let sync):
            // Exchanges run over streams only: a datagram's source is not checked by any
            // handshake, and an answer can be many times its size (a spoofed 25-byte request
            // made a node push 1.2 MB at a victim).
            guard transport == .stream else {
                trust.stats.syncOverDatagramRefused += 1
                break
            }
            onSync(sync, from: sender, &inbound)
        case .queryResponse(let r):
            // An answer counts only from the member it names, from that member's host.
            guard r.from == packet.from, attributable else {
                trust.stats.misattributedAnswersRefused += 1
                break
            }
            onQueryResponse(r)
        case .hive(let h):
            onHive(h, from: sender, blame: inbound.sender)
        case .route(let scope, let updates):
            onRoute(scope: scope, updates: updates, from: sender, graylisted: graylisted, blame: inbound.sender)
        case .ihave(let ids):
            if !graylisted { onIHave(ids, from: sender) }
        case .graft(let ids):
            onGraft(ids, from: sender, graylisted: graylisted)
        }
        boundReplies(since: mark)
        trust.replyBudget = nil
        return flush()
    }

    /// The updates a packet carries. A graylisted sender's gossip is ignored (it still
    /// answers probes, and its valid news reaches us through others) — except its own alive
    /// claim: a refutation only it can make, and the one news a live member must never miss.
    /// Answer a ping for us on the transport it came by.
    mutating func onPing(seq: UInt32, target: NodeID, from sender: Peer, via transport: Transport) {
        guard target == me.id else {
            membership.stats.misdirectedPings += 1
            return
        }
        if transport == .stream {
            out.append(
                .send(
                    Packet(from: me.id, message: .ack(seq: seq, coordinate: vivaldi.coordinate)), to: sender,
                    via: .stream))
        } else {
            sendDatagram(.ack(seq: seq, coordinate: vivaldi.coordinate), to: sender)
        }
    }

    mutating func applyUpdates(of packet: Packet, graylisted: Bool, attributable: Bool, _ inbound: inout Inbound) {
        guard !packet.updates.isEmpty else { return }
        if graylisted {
            for update in packet.updates {
                if case .alive(let m) = update, m.id == packet.from, settings.trust.lossTolerant {
                    apply(update, &inbound)
                } else {
                    trust.stats.graylistedUpdatesIgnored += 1
                }
            }
            return
        }
        var fresh = false
        for update in packet.updates where apply(update, &inbound) == .fresh {
            if update.subject != .member(me.id) { fresh = true }
        }
        if fresh && attributable { reward(packet.from, timelyAck: false) }
    }

    /// A stream to `address` could not be opened. `refused` means the peer's host answered
    /// with a reset: it is up, but nothing listens on the member's port any more — its
    /// process is gone. A member we are probing, that missed its ping and now refuses the
    /// fallback stream, is declared dead at once: a paused process still accepts
    /// connections and a partition times out, so neither can produce this evidence, and a
    /// restarted process comes back with a higher incarnation that supersedes the verdict.
    public mutating func streamFailed(to address: Address, refused: Bool, now: Instant) -> [Effect] {
        advance(to: now)
        guard phase == .active, refused, settings.deadOnRefusedProbe,
            let p = membership.probe, !p.acked, p.indirect, p.address == address,
            let r = table[p.target], r.member.status.isLive
        else { return flush() }
        membership.stats.refusedProbes += 1
        var local = Inbound.local
        applyDead(id: p.target, incarnation: r.member.incarnation, from: me.id, left: false, &local)
        return flush()
    }

    /// Time passed: run every timer that is due.
    public mutating func tick(now: Instant) -> [Effect] {
        advance(to: now)
        while let timer = timers.popDue(self.now) {
            fire(timer.kind, due: timer.at)
        }
        return flush()
    }

    // MARK: Queries

    public func member(_ id: NodeID) -> Member? { table[id]?.member }

    public var members: [Member] { table.allMembers }

    /// Current minimum suspicion timeout for this swarm size (for reports and tests).
    public var suspicionMinimum: Duration { settings.suspicionMinimum(members: table.liveCount) }

    public var pendingTimers: Int { timers.count }

    // MARK: Plumbing

    mutating func advance(to now: Instant) {
        if now > self.now { self.now = now }
    }

    mutating func flush() -> [Effect] {
        paceRelay()
        if let earliest = timers.wakeToReport() { out.append(.wake(at: earliest)) }
        let effects = out
        out.removeAll(keepingCapacity: true)
        return effects
    }

    /// A timer that fires much later than it was due means this node was stalled (GC, CPU
    /// starvation, a paused VM). Packets that arrived meanwhile — acks, refutations — may not
    /// have been read yet, so verdicts are deferred and local health worsens (Lifeguard's
    /// "the local failure detector may be at fault", §III).
    func isLate(_ due: Instant) -> Bool {
        now - due > settings.probeInterval / 2
    }

    mutating func fire(_ kind: TimerQueue.Kind, due: Instant) {
        if phase == .left { return }
        switch kind {
        case .membership(let t): fire(t, due: due)
        case .dissemination(let t): fire(t)
        case .state(let t): fire(t)
        case .trust(let t): fire(t)
        case .hive(let t): fire(t)
        case .router(let t): fire(t)
        }
    }

    mutating func fire(_ timer: Membership.Timer, due: Instant) {
        switch timer {
        case .probe: onProbeTick(late: isLate(due))
        case .probeTimeout(let s): onProbeTimeout(seq: s)
        case .helperTimeout(let s): onHelperTimeout(seq: s)
        case .suspicion(let id, let inc): onSuspicionTimeout(id: id, incarnation: inc, late: isLate(due))
        case .reap: onReapTick()
        case .joinRetry: attemptJoin()
        case .leaveTimeout: if phase == .leaving { completeLeave() }
        case .revivalHold(let id): onRevivalHold(id)
        }
    }

    mutating func fire(_ timer: Dissemination.Timer) {
        switch timer {
        case .gossip: onGossipTick()
        case .pushPull: onPushPullTick()
        case .joinSync: onJoinSyncTick()
        case .reconnect: onReconnectTick()
        case .exchangeTimeout(let e): onExchangeTimeout(exchange: e)
        }
    }

    mutating func fire(_ timer: ReplicatedState.Timer) {
        switch timer {
        case .collect: onStateCollectTick()
        case .sync: onStateSyncTick()
        case .queryDeadline(let c): onQueryDeadline(counter: c)
        }
    }

    mutating func fire(_ timer: Trust.Timer) {
        switch timer {
        case .scoreDecay: onScoreDecayTick()
        case .helperAudit(let s): onHelperAudit(seq: s)
        case .auditPingTimeout(let s): trust.auditPings[s] = nil
        }
    }

    mutating func fire(_ timer: Hive.Timer) {
        switch timer {
        case .heartbeat: onHeartbeatTick()
        case .election: onElectionTick()
        case .home: onHomeTick()
        }
    }

    mutating func fire(_ timer: Router.Timer) {
        switch timer {
        case .graft: onGraftTick()
        case .relay: onRelayTick()
        }
    }

    mutating func emit(_ event: Event) { out.append(.emit(event)) }

    /// Send a datagram, filling the room left under the MTU with queued broadcasts.
    /// Send a datagram, with news from the piggyback queue. Each item goes a limited number
    /// of times, and only SWIM's own messages (probes, acks, gossip, to members picked at
    /// random) spend those times; the hive's and the router's carry the news along for free.
    /// They go to the same few members over and over (a worker acknowledges every heartbeat
    /// of its queen): when they spent it, a death's transmissions went to the queen, and the
    /// rest of the swarm learned of it only by probing for itself (real agents, issue 17: a
    /// kill -9 seen by half the survivors in 1–2 s, by the rest 5–12 s later).
    mutating func sendDatagram(_ message: Message, to peer: Peer, first: [Update] = []) {
        var packet = Packet(from: me.id, message: message, updates: first)
        if !queue.isEmpty {
            let budget = settings.maxDatagramBytes - Wire.size(of: packet) - 1
            if message.spendsTransmissions || settings.newsOnHiveMessages {
                packet.updates += dissemination.queue.take(budget: budget, limit: retransmitLimit)
            } else {
                packet.updates += dissemination.queue.peek(budget: budget)
            }
        }
        out.append(.send(trimmedToReplyBudget(packet), to: peer, via: .datagram))
    }

    mutating func sendStream(_ sync: Sync, to peer: Peer) {
        out.append(.send(Packet(from: me.id, message: .sync(sync)), to: peer, via: .stream))
    }

    var retransmitLimit: Int { settings.retransmitLimit(members: table.liveCount) }

    /// Up to `count` distinct random members other than us that satisfy `filter`.
    /// Small tables are scanned; large ones sampled at random positions (O(log N) each).
    mutating func randomMembers(_ count: Int, filter: (MemberTable.Record) -> Bool) -> [Member] {
        guard count > 0, table.count > 1 else { return [] }
        if table.count <= 64 {
            var pool: [Member] = []
            for (id, r) in table.records where id != me.id && filter(r) { pool.append(r.member) }
            return rng.sample(count, from: pool)
        }
        var picked: [Member] = []
        var attempts = 0
        while picked.count < count && attempts < count * 8 {
            attempts += 1
            let r = table.record(atOffset: rng.below(table.count))
            if r.member.id == me.id || !filter(r) { continue }
            if picked.contains(where: { $0.id == r.member.id }) { continue }
            picked.append(r.member)
        }
        return picked
    }
}
