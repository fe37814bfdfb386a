import ColonyCore

/// A deterministic swarm: many `NodeCore`s in one process on a virtual clock, talking over
/// a modelled network, with crashes, restarts, pauses and partitions on a schedule.
///
/// One 64-bit seed decides everything (node ids, positions, every core's generator, every
/// network roll), so the same seed replays the same run; `traceHash` digests every step so a
/// test can prove it. Invariants are checked after every step against what the simulator
/// knows to be true (who is really up), and violations are recorded with the time.
public final class Simulator {
    public struct Node {
        public let id: NodeID
        public let address: Address
        public let position: SIMD2<Double>
        public internal(set) var core: NodeCore?
        /// Running (not crashed). A paused node is up.
        public internal(set) var isUp = false
        public internal(set) var pausedUntil: Int64 = 0
        /// What the node made durable: a restart resumes above it.
        public internal(set) var persistedIncarnation: UInt64 = 0
        public internal(set) var restarts = 0
        public internal(set) var group: UInt8 = 0
        /// Crashed as a process on a live host: streams to it are refused (RST), not lost.
        public internal(set) var refusesStreams = false
        /// The node's durable log: what a restart rebuilds its state from.
        public internal(set) var durableRecords: [StateRecord] = []
        public internal(set) var durableEvents: [UserEvent] = []
        /// How many entries the node's event log holds: one per `.persist` effect as a real
        /// node appends them (`LogRecord.entries(for:atMs:)`), incarnations aside.
        public internal(set) var durableLogEntries = 0
        /// Wall-clock skew of this node's host, milliseconds.
        public internal(set) var clockSkewMs: Int64 = 0
        /// How fast this node's monotonic clock runs against true time (1 ± `clockDrift`):
        /// its core sees `now × clockRate`, and its timers fire when its clock says so.
        public internal(set) var clockRate: Double = 1
        var wakeGeneration: UInt64 = 0
        var wakeAt: Int64 = .max
        public internal(set) var bytesSent = 0
        public internal(set) var messagesSent = 0
        /// Honest, or one of the abuse scenario's offenders.
        public var behaviour: Behaviour = .honest
    }

    enum Payload {
        case deliver(to: Int32, from: Int32, packet: Packet, via: Transport, bytes: Int32, injected: Bool)
        case refused(node: Int32, address: Address)
        case wake(node: Int32, generation: UInt64)
        case action(Int)
    }

    public let seed: UInt64
    public let settings: Settings
    public var network: NetworkModel
    public private(set) var nodes: [Node] = []
    public private(set) var now: Int64 = 0
    public private(set) var steps = 0
    public private(set) var traceHash: UInt64 = 0xCBF2_9CE4_8422_2325
    public private(set) var violations: [String] = []
    /// True while no fault is active: then no up, reachable member may be declared dead.
    public var strict = true
    public private(set) var partitioned = false
    /// Healthy members (up when declared) declared dead by anyone, by index, once each.
    public private(set) var falselyDeclaredDead: Set<Int> = []
    public private(set) var messagesByKind = [Int](repeating: 0, count: MessageKind.allCases.count)
    public private(set) var bytesByKind = [Int](repeating: 0, count: MessageKind.allCases.count)

    /// Called for every event a node emits, after the invariant checks.
    public var onEvent: ((Simulator, Int, Event) -> Void)?
    /// Called for every send, with the sender, the receiver (if known) and the packet.
    public var onSend: ((Simulator, Int, Packet) -> Void)?
    /// Ground truth about writes, checked on every state change.
    public let oracle = StateOracle()
    /// Wall-clock origin handed to nodes (ms since the epoch at virtual time 0).
    public var wallEpochMs: Int64 = 1_750_000_000_000

    var queue = EventQueue<Payload>()
    var rng: Xoshiro256
    var actions: [(Simulator) -> Void] = []
    var addressIndex: [Address: Int32] = [:]
    /// Sign and verify with `SimAuthenticator` (the abuse scenario).
    public var authenticate = false
    /// Node pairs whose direct path is broken both ways (flaky links: indirect probing
    /// routes around them). Keys are `min << 32 | max`.
    public var brokenLinks: Set<UInt64> = []
    /// Called for every packet delivered, before the receiver handles it (the flag: sent by
    /// `inject`, not by the sender's core).
    public var onDeliver: ((Simulator, Int, Int, Packet, Bool) -> Void)?
    var injecting = false

    // The hive's safety (DESIGN.md §5), checked on every step.
    /// Who became queen of each (cell, term).
    public private(set) var queensByTerm: [CellID: [UInt64: Int]] = [:]
    /// The last node seen holding each cell's lease, and until when (global time).
    var leaseHolders: [CellID: (node: Int, until: Int64)] = [:]
    /// Violations of "at most one queen per cell per term" and "no two lease-holding queens
    /// of one cell at the same instant".
    public private(set) var safetyViolations = 0
    /// Broadcast payloads (records, events, queries) sent, in any packet: the numerator of
    /// relative message redundancy.
    public private(set) var payloadsSent = 0
    /// The sender of the packet being delivered (nil outside deliveries).
    public private(set) var deliveringFrom: Int?

    /// The most a node's clock rate differs from true time (0.01: ±1%), drawn per node as it
    /// is added. Real quartz drifts ~50 ppm; the hive's lease margin (`leaseFraction`)
    /// must cover it. Its own generator, so runs without drift replay as before.
    public var clockDrift: Double = 0
    var driftRng: Xoshiro256

    public init(seed: UInt64, settings: Settings, network: NetworkModel) {
        precondition(settings.indirectChecks >= 0)
        self.driftRng = Xoshiro256(seed: seed ^ 0xD81F_7C10_C4)
        self.seed = seed
        self.settings = settings
        self.network = network
        self.rng = Xoshiro256(seed: seed ^ 0x5EED_0F_C0_10_4E)
    }

    // MARK: Building the swarm

    /// Add `count` nodes (not yet running). Ids and positions come from the seed.
    @discardableResult
    public func addNodes(_ count: Int) -> Range<Int> {
        let start = nodes.count
        nodes.reserveCapacity(start + count)
        for i in start..<(start + count) {
            let id = NodeID(high: UInt64(i), low: SplitMix64.mix(seed &+ UInt64(i) &* 0x9E37_79B9))
            let address = Address(host: "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)", port: 7946)
            let position = SIMD2(rng.unit(), rng.unit())
            var node = Node(id: id, address: address, position: position)
            node.clockSkewMs = Int64(rng.below(41)) - 20
            node.clockRate = 1 + clockDrift * (2 * driftRng.unit() - 1)
            nodes.append(node)
            addressIndex[address] = Int32(i)
        }
        return start..<(start + count)
    }

    public func member(for i: Int, incarnation: UInt64 = 1) -> Member {
        Member(id: nodes[i].id, name: "node-\(i)", address: nodes[i].address, incarnation: incarnation)
    }

    /// A table in which the given nodes are all alive: the state of a converged swarm,
    /// built once and shared by every node (persistent structure).
    public func convergedTable(_ range: Range<Int>) -> MemberTable {
        var t = MemberTable()
        for i in range { t.upsert(member(for: i), at: .zero) }
        return t
    }

    /// Start node `i` now. With `known`, it starts already knowing the swarm; otherwise it
    /// knows only itself. A restart resumes with an incarnation above what it persisted.
    public func start(_ i: Int, known: MemberTable? = nil) {
        precondition(!nodes[i].isUp, "node \(i) is already up")
        let incarnation = max(
            1, nodes[i].persistedIncarnation + (nodes[i].restarts > 0 || nodes[i].persistedIncarnation > 0 ? 1 : 0))
        let coreSeed = SplitMix64.mix(seed ^ SplitMix64.mix(UInt64(i) &+ UInt64(nodes[i].restarts) << 40))
        var core = NodeCore(
            me: member(for: i, incarnation: incarnation), settings: settings, seed: coreSeed, now: clock(i),
            knownMembers: known)
        if authenticate { core.authenticate(with: SimAuthenticator(id: nodes[i].id, swarmSecret: seed)) }
        if !nodes[i].durableRecords.isEmpty || !nodes[i].durableEvents.isEmpty {
            core.restore(records: nodes[i].durableRecords, events: nodes[i].durableEvents)
        }
        core.anchorWallClock(ms: wallMs(i), now: clock(i))
        nodes[i].isUp = true
        nodes[i].refusesStreams = false
        nodes[i].pausedUntil = 0
        let effects = core.start(now: clock(i))
        nodes[i].core = core
        apply(effects, node: i)
    }

    public enum CrashKind: Sendable {
        /// The machine vanishes: packets and connections to it go unanswered.
        case host
        /// The process dies on a live machine: its port refuses connections.
        case process
    }

    /// Crash node `i`: it stops at once, losing all volatile state (not what it persisted).
    public func crash(_ i: Int, kind: CrashKind = .host) {
        guard nodes[i].isUp else { return }
        nodes[i].refusesStreams = kind == .process
        nodes[i].isUp = false
        nodes[i].core = nil
        nodes[i].wakeGeneration &+= 1
        nodes[i].wakeAt = .max
        nodes[i].restarts += 1
    }

    /// Stall node `i` for `nanoseconds`: nothing it would do happens until then; packets for
    /// it wait (as in a socket buffer) and its timers fire late.
    public var debugDeaths = false
    lazy var lastPauseStart = [Int64](repeating: -1, count: nodes.count)
    public func pause(_ i: Int, forNanoseconds ns: Int64) {
        guard nodes[i].isUp else { return }
        lastPauseStart[i] = now
        nodes[i].pausedUntil = max(nodes[i].pausedUntil, now + ns)
    }

    public func join(_ i: Int, seeds: [Int]) {
        let addresses = seeds.map { nodes[$0].address }
        command(i) { core, now in core.join(seeds: addresses, now: now) }
    }

    /// This node's wall clock now (ms since the epoch), skew included.
    public func wallMs(_ i: Int) -> UInt64 { UInt64(wallEpochMs + now / 1_000_000 + nodes[i].clockSkewMs) }

    /// Write at node `i` through its core. `read`: nil for the last-writer-wins
    /// convenience, else an earlier read whose context the write carries (an empty read
    /// writes blind). The oracle learns what the write really saw. Returns the acknowledged
    /// record.
    @discardableResult
    public func put(_ i: Int, key: String, value: [UInt8]?, read: ReadResult? = nil) -> StateRecord? {
        guard nodes[i].isUp, nodes[i].core != nil else { return nil }
        let seeing = read?.siblings ?? nodes[i].core!.state.read(key).siblings
        let (result, effects) = nodes[i].core!.put(
            key, value: value, context: read?.context, wallMs: wallMs(i), now: clock(i))
        guard case .success(let record) = result else {
            apply(effects, node: i)
            return nil
        }
        oracle.wrote(record, seeing: seeing)
        apply(effects, node: i)
        return record
    }

    public func setBehaviour(_ i: Int, _ b: Behaviour) {
        if nodes[i].behaviour == .honest && b != .honest { misbehaving += 1 }
        if nodes[i].behaviour != .honest && b == .honest { misbehaving -= 1 }
        nodes[i].behaviour = b
    }

    /// How many nodes misbehave (the abuse scenario's offenders).
    public private(set) var misbehaving = 0

    /// `strict`, and no fault the simulator injects is active: broken links and misbehaving
    /// nodes are faults too (a death verdict then counts as a false positive, not a
    /// violated invariant).
    public var faultFree: Bool { strict && brokenLinks.isEmpty && misbehaving == 0 }

    /// Send a user event from node `i`.
    @discardableResult
    public func event(_ i: Int, name: String, payload: [UInt8]) -> UserEvent? {
        guard nodes[i].isUp, nodes[i].core != nil else { return nil }
        let (result, effects) = nodes[i].core!.event(name, payload: payload, now: clock(i))
        apply(effects, node: i)
        return try? result.get()
    }

    public func leave(_ i: Int) {
        command(i) { core, now in core.leave(now: now) }
    }

    /// Put nodes into partition groups; packets cross groups only when `group` is equal.
    public func partition(_ groups: [UInt8]) {
        precondition(groups.count == nodes.count)
        for i in nodes.indices { nodes[i].group = groups[i] }
        partitioned = true
    }

    public func heal() {
        for i in nodes.indices { nodes[i].group = 0 }
        partitioned = false
    }

    func command(_ i: Int, _ body: (inout NodeCore, Instant) -> [Effect]) {
        guard nodes[i].isUp, nodes[i].core != nil else { return }
        let effects = body(&nodes[i].core!, clock(i))
        apply(effects, node: i)
    }

    /// Node `i`'s monotonic clock now (its rate applied to true time).
    public func clock(_ i: Int) -> Instant {
        nodes[i].clockRate == 1
            ? instant : Instant(nanoseconds: Int64((Double(now) * nodes[i].clockRate).rounded(.down)))
    }

    /// True time at which node `i`'s clock reads `local`.
    func trueTime(_ i: Int, _ local: Int64) -> Int64 {
        // One nanosecond late, so the node's clock has surely reached `local` by then.
        nodes[i].clockRate == 1 ? local : Int64((Double(local) / nodes[i].clockRate).rounded(.up)) + 1
    }

    // MARK: Running

    public var instant: Instant { Instant(nanoseconds: now) }

    /// Run `body` at virtual time `at` (nanoseconds).
    public func schedule(at time: Int64, _ body: @escaping (Simulator) -> Void) {
        actions.append(body)
        queue.push(.action(actions.count - 1), at: max(time, now))
    }

    /// Process events until `time`, or until `stop` says so (checked after each step).
    public func run(until time: Int64, stop: (Simulator) -> Bool = { _ in false }) {
        while let next = queue.nextTime, next <= time {
            step()
            if stop(self) { return }
        }
        now = max(now, time)
    }

    func step() {
        guard let (time, payload) = queue.pop() else { return }
        now = time
        steps += 1
        switch payload {
        case .action(let index):
            mixTrace(1, UInt64(index))
            let body = actions[index]
            body(self)
        case .wake(let node, let generation):
            let i = Int(node)
            guard nodes[i].isUp, nodes[i].wakeGeneration == generation, !deferredWhilePaused(payload, node: i) else {
                return
            }
            nodes[i].wakeAt = .max
            mixTrace(2, UInt64(i))
            let effects = nodes[i].core!.tick(now: clock(i))
            apply(effects, node: i)
            checkLease(i)
        case .refused(let node, let address):
            let i = Int(node)
            guard nodes[i].isUp, !deferredWhilePaused(payload, node: i) else { return }
            mixTrace(5, UInt64(i))
            let effects = nodes[i].core!.streamFailed(to: address, refused: true, now: clock(i))
            apply(effects, node: i)
        case .deliver(let to, let from, let packet, let via, let bytes, let injected):
            let i = Int(to)
            guard nodes[i].isUp, !deferredWhilePaused(payload, node: i) else { return }
            mixTrace(3, UInt64(i) << 32 | UInt64(from))
            mixTrace(4, UInt64(packet.message.kind.rawValue) << 16 | UInt64(packet.updates.count))
            onDeliver?(self, i, Int(from), packet, injected)
            // A freeloader ignores requests to probe for others.
            if nodes[i].behaviour == .freeloader, case .pingReq = packet.message { return }
            // Its size on the wire, for the byte rate limit (measured once, when sent).
            deliveringFrom = Int(from)
            let effects = nodes[i].core!.receive(
                packet, from: nodes[Int(from)].address, via: via, bytes: authenticate ? Int(bytes) : 0, now: clock(i))
            apply(effects, node: i)
            deliveringFrom = nil
            checkLease(i)
        }
    }

    /// The lease invariant: if node `i` holds its cell's lease now, no other node may. Each
    /// queen's lease ends when her own clock says so: in true time, by her clock's rate.
    func checkLease(_ i: Int) {
        guard settings.hive.enabled, let core = nodes[i].core, core.hive.role == .queen, let cell = core.hive.cell,
            let local = core.hive.leaseUntil?.nanoseconds
        else { return }
        let until = trueTime(i, local)
        guard until > now else { return }
        if let h = leaseHolders[cell], h.node != i, h.until > now, let other = nodes[h.node].core,
            other.hive.role == .queen, other.hive.cell == cell, let otherLocal = other.hive.leaseUntil?.nanoseconds,
            case let otherUntil = trueTime(h.node, otherLocal), otherUntil > now
        {
            safetyViolations += 1
            violation(
                "two lease-holding queens of cell \(cell): node \(h.node) (term \(other.hive.term), until \(Double(otherUntil) / 1e6) ms) and node \(i) (term \(core.hive.term), until \(Double(until) / 1e6) ms)"
            )
        }
        leaseHolders[cell] = (i, until)
    }

    /// A paused node does nothing until it resumes: its input waits (as in a socket buffer)
    /// and its timers fire late. On resume it reads its socket before running overdue
    /// timers, as a SwiftNIO event loop does (I/O first, then due scheduled tasks).
    func deferredWhilePaused(_ payload: Payload, node i: Int) -> Bool {
        guard nodes[i].pausedUntil > now else { return false }
        if case .wake = payload {
            queue.push(payload, at: nodes[i].pausedUntil + 1)
        } else {
            queue.push(payload, at: nodes[i].pausedUntil)
        }
        return true
    }

    func mixTrace(_ tag: UInt64, _ value: UInt64) {
        traceHash = SplitMix64.mix(traceHash ^ (UInt64(bitPattern: now) &* 31 &+ tag &* 0x1000193 &+ value))
    }

    // MARK: Effects

    func apply(_ effects: [Effect], node i: Int) {
        var ownDurable: UInt64 = 0
        defer {
            // Durable at once in the model: the node may now send its writes.
            if ownDurable > 0 { command(i) { core, now in core.recordsDurable(through: ownDurable, now: now) } }
        }
        for effect in effects {
            switch effect {
            case .send(let packet, let peer, let via):
                route(packet, from: i, to: peer, via: via)
            case .emit(let event):
                observe(event, at: i)
            case .persist(.incarnation(let inc)):
                if inc < nodes[i].persistedIncarnation {
                    violation("node \(i) persisted incarnation \(inc) below \(nodes[i].persistedIncarnation)")
                }
                nodes[i].persistedIncarnation = inc
            case .persist(.record(let c)):
                nodes[i].durableRecords.append(c.record)
                nodes[i].durableLogEntries += 1
                if c.record.dot.origin == nodes[i].id { ownDurable = max(ownDurable, c.record.dot.counter) }
            case .persist(.covered(let r)):
                nodes[i].durableRecords.append(r)
                nodes[i].durableLogEntries += 1
            case .persist(.event(let e)):
                nodes[i].durableEvents.append(e)
                nodes[i].durableLogEntries += 1
            case .persist(.member):
                // In a real node's log for its readers; a restart rebuilds from records and
                // events only (as `EventLog.loadState`), so the model only counts them.
                nodes[i].durableLogEntries += 1
            case .persist(.collected(let keys)):
                nodes[i].durableLogEntries += keys.count
            case .wake(let at):
                let t = trueTime(i, at.nanoseconds)
                if t < nodes[i].wakeAt {
                    nodes[i].wakeAt = t
                    nodes[i].wakeGeneration &+= 1
                    queue.push(.wake(node: Int32(i), generation: nodes[i].wakeGeneration), at: max(t, now))
                }
            }
        }
    }

    func resolve(_ peer: Peer) -> Int? {
        if let id = peer.id { return index(of: id) }
        return addressIndex[peer.address].map(Int.init)
    }

    /// The node with this id (ids carry their index in `high`).
    public func index(of id: NodeID) -> Int? {
        let i = Int(truncatingIfNeeded: id.high)
        return i >= 0 && i < nodes.count && nodes[i].id == id ? i : nil
    }

    func route(_ packet: Packet, from i: Int, to peer: Peer, via: Transport) {
        var packet = packet
        if nodes[i].behaviour == .freeloader {
            // Relays nothing: no gossip rounds, no piggybacked news but its own claims (it
            // wants to stay a member).
            if case .gossip = packet.message { return }
            let me = nodes[i].id
            packet.updates = packet.updates.filter { $0.subject == .member(me) }
        }
        let bytes = Wire.size(of: packet)
        payloadsSent += Self.payloads(in: packet)
        nodes[i].bytesSent += bytes
        nodes[i].messagesSent += 1
        let kind = packet.message.kind.rawValue
        messagesByKind[kind] += 1
        bytesByKind[kind] += bytes
        onSend?(self, i, packet)
        guard let j = resolve(peer) else { return }
        if nodes[i].group != nodes[j].group { return }
        if !brokenLinks.isEmpty && brokenLinks.contains(Self.linkKey(i, j)) { return }
        let latency = network.linkLatency(nodes[i].position, nodes[j].position)
        switch via {
        case .datagram:
            if rng.chance(network.loss) { return }
            var delay = latency + Int64(Double(latency) * network.jitter * rng.unit())
            if rng.chance(network.reorder) { delay += Int64(Double(latency) * 5 * rng.unit()) }
            queue.push(
                .deliver(
                    to: Int32(j), from: Int32(i), packet: packet, via: via, bytes: Int32(clamping: bytes),
                    injected: injecting), at: now + delay)
            if rng.chance(network.duplicate) {
                let again = delay + Int64(Double(latency) * rng.unit())
                queue.push(
                    .deliver(
                        to: Int32(j), from: Int32(i), packet: packet, via: via, bytes: Int32(clamping: bytes),
                        injected: injecting), at: now + again)
            }
        case .stream:
            guard nodes[j].isUp else {
                // A dead process on a live host answers the connect with a reset.
                if nodes[j].refusesStreams {
                    queue.push(.refused(node: Int32(i), address: peer.address), at: now + 2 * latency)
                }
                return
            }
            // Handshake, then the frame, then bandwidth.
            let transfer = Int64(Double(bytes) / network.streamBytesPerMicrosecond * 1000)
            let delay = 3 * latency + transfer + Int64(Double(latency) * network.jitter * rng.unit())
            queue.push(
                .deliver(
                    to: Int32(j), from: Int32(i), packet: packet, via: via, bytes: Int32(clamping: bytes),
                    injected: injecting), at: now + delay)
        }
    }

    /// Records, events and queries a packet carries (piggybacked, routed or synced).
    static func payloads(in packet: Packet) -> Int {
        func count(_ us: [Update]) -> Int {
            var n = 0
            for u in us {
                switch u {
                case .record, .event, .query: n += 1
                case .alive, .suspect, .dead, .left, .queen: break
                }
            }
            return n
        }
        var n = count(packet.updates)
        switch packet.message {
        case .route(_, let us): n += count(us)
        case .sync(.stateRecords(_, let records, _, _, _)): n += records.count
        case .sync(.missedEvents(_, let events)), .sync(.recentEvents(_, let events)): n += events.count
        default: break
        }
        return n
    }

    static func linkKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(min(a, b)) << 32 | UInt64(max(a, b)) }

    /// Send a packet from node `i` as if its core had (offenders' traffic). Goes through the
    /// same modelled network.
    public func inject(_ packet: Packet, from i: Int, to j: Int, via: Transport = .datagram) {
        guard nodes[i].isUp else { return }
        injecting = true
        defer { injecting = false }
        route(packet, from: i, to: Peer(id: nodes[j].id, address: nodes[j].address), via: via)
    }

    // MARK: Invariants

    func observe(_ event: Event, at i: Int) {
        if case .memberChanged(let m, let previous) = event {
            if let previous, !m.supersedes(previous) {
                violation("node \(i) replaced \(previous) of \(m.id) with non-superseding \(m)")
            }
            if let j = resolve(m.peer) {
                if j == i {
                    violation("node \(i) changed its own record to \(m)")
                }
                if m.status == .dead, nodes[j].isUp {
                    let reachable = nodes[j].pausedUntil <= now && nodes[j].group == nodes[i].group
                    falselyDeclaredDead.insert(j)
                    if debugDeaths {
                        print(
                            "DEBUG t=\(now/1_000_000) node \(i) declares \(j) dead inc \(m.incarnation); victim pausedUntil \(nodes[j].pausedUntil/1_000_000) lastPause \(lastPauseStart[j]/1_000_000); observer lastPause \(lastPauseStart[i]/1_000_000)-\(nodes[i].pausedUntil/1_000_000)"
                        )
                    }
                    if faultFree && reachable {
                        violation(
                            "node \(i) declared node \(j) dead while it is up and reachable in a fault-free phase")
                    }
                }
                if m.incarnation > nodes[j].persistedIncarnation {
                    violation("node \(i) holds incarnation \(m.incarnation) for node \(j), which never used it")
                }
            }
        }
        if case .keyChanged(let change) = event {
            if let problem = oracle.check(change) { violation("node \(i): \(problem)") }
        }
        if case .hive(let change) = event {
            switch change {
            case .founded(let cell, let term), .elected(let cell, let term):
                if let other = queensByTerm[cell]?[term], other != i {
                    safetyViolations += 1
                    violation("two queens of cell \(cell) in term \(term): node \(other) and node \(i)")
                }
                queensByTerm[cell, default: [:]][term] = i
            case .steppedDown, .accepted, .leftCell, .splitting:
                break
            }
        }
        onEvent?(self, i, event)
    }

    public func violation(_ text: String) {
        if violations.count < 100 {
            violations.append("t=\(Double(now) / 1e6)ms: \(text)")
        }
    }

    // MARK: Observations

    public var upNodes: [Int] { nodes.indices.filter { nodes[$0].isUp } }

    /// Every up node sees exactly the up nodes alive, and each of `expectedGone` as dead or
    /// left (or forgotten). O(N²) in the worst case; counts are checked first.
    public func isConverged(expectedGone: Set<Int> = []) -> Bool {
        let up = upNodes
        for i in up {
            guard let core = nodes[i].core else { return false }
            if core.table.count(.alive) != up.count || core.table.count(.suspect) != 0 { return false }
        }
        for i in up {
            let table = nodes[i].core!.table
            for j in up where table[nodes[j].id]?.member.status != .alive { return false }
            for j in expectedGone {
                if let s = table[nodes[j].id]?.member.status, s.isLive { return false }
            }
        }
        return true
    }

    /// The true round trip between two nodes (no jitter), seconds.
    public func trueRTT(_ a: Int, _ b: Int) -> Double {
        2 * Double(network.linkLatency(nodes[a].position, nodes[b].position)) / 1e9
    }

    /// Relative error of the coordinates' RTT estimates over `pairs` random pairs of up nodes.
    public func coordinateError(pairs: Int, rng: inout Xoshiro256) -> Distribution? {
        let up = upNodes
        guard up.count > 1, pairs > 0 else { return nil }
        var errors: [Double] = []
        for _ in 0..<pairs {
            let a = up[rng.below(up.count)]
            let b = up[rng.below(up.count)]
            guard a != b, let ca = nodes[a].core?.vivaldi.coordinate, let cb = nodes[b].core?.vivaldi.coordinate else {
                continue
            }
            let truth = trueRTT(a, b)
            errors.append(abs(ca.distance(to: cb) - truth) / truth)
        }
        return Distribution(errors)
    }

    public var totalBytesSent: Int { nodes.reduce(0) { $0 + $1.bytesSent } }
    public var totalMessagesSent: Int { nodes.reduce(0) { $0 + $1.messagesSent } }
}
