import ColonyCore

/// A deterministic swarm: many `NodeCore`s in one process on a virtual clock, talking over
/// a modelled network, with crashes, restarts, pauses and partitions on a schedule.
///
/// One 64-bit seed decides everything (node ids, positions, every core's generator, every
/// network roll), so the same seed replays the same run; `traceHash` digests every step so a
/// test can prove it. Invariants are checked after every step against what the simulator
/// knows to be true (who is really up), and violations are recorded with the time.
///
/// The simulator is in parts, one concern per file: this file runs the nodes (the event
/// queue, their cores, their effects); Network.swift carries packets; Faults.swift crashes,
/// pauses and partitions; Misbehaviour.swift wraps an offender's effects; Checkers.swift
/// holds the invariants (membership, the hive's safety, the state oracle); Metrics.swift
/// counts traffic. The scenarios drive it (Simulation.swift) with workloads (Workloads.swift).
public final class Simulator {
    package struct Node {
        public let id: NodeID
        public let address: Address
        public let position: SIMD2<Double>
        public internal(set) var core: NodeCore?
        /// Running (not crashed). A paused node is up.
        public internal(set) var isUp = false
        public internal(set) var pausedUntil: Instant = .zero
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
        /// The earliest wake queued for the node's core (nil: none).
        var wakeAt: Instant?
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

    package let seed: UInt64
    package let settings: Settings
    package var network: NetworkModel
    package internal(set) var nodes: [Node] = []
    package private(set) var now: Instant = .zero
    package private(set) var steps = 0
    package private(set) var traceHash: UInt64 = 0xCBF2_9CE4_8422_2325

    /// Called for every event a node emits, after the invariant checks.
    package var onEvent: ((Simulator, Int, Event) -> Void)?
    /// Called for every send, with the sender, the receiver (if known) and the packet.
    package var onSend: ((Simulator, Int, Packet) -> Void)?
    /// Called for every packet delivered, before the receiver handles it (the flag: sent by
    /// `inject`, not by the sender's core).
    package var onDeliver: ((Simulator, Int, Int, Packet, Bool) -> Void)?
    /// Wall-clock origin handed to nodes (ms since the epoch at virtual time 0).
    package var wallEpochMs: Int64 = 1_750_000_000_000
    /// Sign and verify with `SimAuthenticator` (the abuse scenario).
    package var authenticate = false
    /// Nodes that sign claims about themselves their cores never made (an attacker holding its
    /// own key): the incarnations others hold for them are theirs to invent.
    package var selfSigningLiars: Set<Int> = []

    var queue = EventQueue<Payload>()
    /// The network's rolls, and the nodes' positions and skews as they are added.
    var rng: Xoshiro256
    var actions: [(Simulator) -> Void] = []
    var addressIndex: [Address: Int32] = [:]
    var injecting = false

    /// Timers fire late by a uniform 0 to this, in whole nanoseconds (zero: exactly on time). A real
    /// event loop never fires a timer early and always a little late, and a protocol that
    /// counts rounds within a window sees one round fewer for it: with timers exactly on
    /// time, a queen's check-quorum window held three heartbeat rounds in the simulator and
    /// two on real agents, and under 10 % loss real cells changed queens every few seconds
    /// while simulated ones never did (issue 17). Drawn from its own stream, so the
    /// network's rolls stay as they were.
    public var timerLatenessMax: Duration = .zero
    var timerRng: Xoshiro256
    /// Print every death verdict with the pauses around it (debugging false positives).
    public var debugDeaths = false
    /// When each node's last pause began (nil: never paused).
    lazy var lastPauseStart = [Instant?](repeating: nil, count: nodes.count)
    /// The faults in force (Faults.swift).
    var faults = FaultState()
    /// TCP connections under loss (StreamModel.swift).
    var streams = StreamModel()
    /// The invariants' state (Checkers.swift).
    var checks = CheckerState()
    /// Ground truth about writes, checked on every state change.
    package let oracle = StateOracle()
    /// What was sent (Metrics.swift).
    var traffic = Traffic()
    /// The sender of the packet being delivered (nil outside deliveries).
    package private(set) var deliveringFrom: Int?

    /// The most a node's clock rate differs from true time (0.01: ±1%), drawn per node as it
    /// is added. Real quartz drifts ~50 ppm; the hive's lease margin (`leaseFraction`)
    /// must cover it. Its own generator, so runs without drift replay as before.
    package var clockDrift: Double = 0
    var driftRng: Xoshiro256

    package init(seed: UInt64, settings: Settings, network: NetworkModel) {
        precondition(settings.indirectChecks >= 0)
        self.driftRng = Xoshiro256(seed: seed ^ 0xD81F_7C10_C4)
        self.seed = seed
        self.settings = settings
        self.network = network
        self.rng = Xoshiro256(seed: seed ^ 0x5EED_0F_C0_10_4E)
        self.timerRng = Xoshiro256(seed: seed ^ 0x7133_E5_1A7E)
    }

    // MARK: Building the swarm

    /// Add `count` nodes (not yet running). Ids and positions come from the seed.
    @discardableResult
    package func addNodes(_ count: Int) -> Range<Int> {
        let start = nodes.count
        nodes.reserveCapacity(start + count)
        if !faults.hostLoss.isEmpty { faults.hostLoss += Array(repeating: .none, count: count) }
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

    package func member(for i: Int, incarnation: UInt64 = 1) -> Member {
        Member(id: nodes[i].id, name: "node-\(i)", address: nodes[i].address, incarnation: incarnation)
    }

    /// A table in which the given nodes are all alive: the state of a converged swarm,
    /// built once and shared by every node (persistent structure).
    package func convergedTable(_ range: Range<Int>) -> MemberTable {
        var t = MemberTable()
        for i in range { t.upsert(member(for: i), at: .zero) }
        return t
    }

    /// Start node `i` now. With `known`, it starts already knowing the swarm; otherwise it
    /// knows only itself. A restart resumes with an incarnation above what it persisted.
    package func start(_ i: Int, known: MemberTable? = nil) {
        precondition(!nodes[i].isUp, "node \(i) is already up")
        let resumes = nodes[i].restarts > 0 || nodes[i].persistedIncarnation > 0
        let incarnation = max(1, nodes[i].persistedIncarnation + (resumes ? 1 : 0))
        let coreSeed = SplitMix64.mix(seed ^ SplitMix64.mix(UInt64(i) &+ UInt64(nodes[i].restarts) << 40))
        var core = NodeCore(
            me: member(for: i, incarnation: incarnation), settings: settings, seed: coreSeed, now: clock(i),
            knownMembers: known)
        if authenticate { core.authenticate(with: SimAuthenticator(id: nodes[i].id, swarmSecret: seed)) }
        if !nodes[i].durableRecords.isEmpty || !nodes[i].durableEvents.isEmpty {
            core.restore(records: nodes[i].durableRecords, events: nodes[i].durableEvents, wallMs: wallMs(i))
        }
        core.anchorWallClock(ms: wallMs(i), now: clock(i))
        nodes[i].isUp = true
        nodes[i].refusesStreams = false
        nodes[i].pausedUntil = .zero
        let effects = core.start(now: clock(i))
        nodes[i].core = core
        apply(effects, node: i)
    }

    // MARK: Commands

    package func join(_ i: Int, seeds: [Int]) {
        let addresses = seeds.map { nodes[$0].address }
        command(i) { core, now in core.join(seeds: addresses, now: now) }
    }

    /// Write at node `i` through its core. `read`: nil for the last-writer-wins
    /// convenience, else an earlier read whose context the write carries (an empty read
    /// writes blind). The oracle learns what the write really saw. Returns the acknowledged
    /// record.
    @discardableResult
    package func put(_ i: Int, key: String, value: [UInt8]?, read: ReadResult? = nil) -> StateRecord? {
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

    /// Send a user event from node `i`.
    @discardableResult
    package func event(_ i: Int, name: String, payload: [UInt8]) -> UserEvent? {
        guard nodes[i].isUp, nodes[i].core != nil else { return nil }
        let (result, effects) = nodes[i].core!.event(name, payload: payload, now: clock(i))
        apply(effects, node: i)
        return try? result.get()
    }

    package func leave(_ i: Int) {
        command(i) { core, now in core.leave(now: now) }
    }

    func command(_ i: Int, _ body: (inout NodeCore, Instant) -> [Effect]) {
        guard nodes[i].isUp, nodes[i].core != nil else { return }
        let effects = body(&nodes[i].core!, clock(i))
        apply(effects, node: i)
    }

    // MARK: Clocks

    /// Virtual time since the run began (at `Instant.zero`).
    package var elapsed: Duration { now - Instant.zero }

    /// This node's wall clock now (ms since the epoch), skew included.
    package func wallMs(_ i: Int) -> UInt64 { UInt64(wallEpochMs + elapsed.wholeMilliseconds + nodes[i].clockSkewMs) }

    /// Node `i`'s monotonic clock now: its rate applied to true time, in whole nanoseconds
    /// rounded down (a clock's reading, the raw boundary).
    package func clock(_ i: Int) -> Instant {
        let rate = nodes[i].clockRate
        return rate == 1 ? now : Instant(nanoseconds: Int64((Double(now.nanoseconds) * rate).rounded(.down)))
    }

    /// True time at which node `i`'s clock reads `local`.
    func trueTime(_ i: Int, _ local: Instant) -> Instant {
        let rate = nodes[i].clockRate
        guard rate != 1 else { return local }
        // One nanosecond late, so the node's clock has surely reached `local` by then.
        return Instant(nanoseconds: Int64((Double(local.nanoseconds) / rate).rounded(.up))) + .nanoseconds(1)
    }

    // MARK: Running

    /// Run `body` at virtual time `time` (now, if that has passed).
    package func schedule(at time: Instant, _ body: @escaping (Simulator) -> Void) {
        actions.append(body)
        queue.push(.action(actions.count - 1), at: max(time, now))
    }

    /// Process events until `time`, or until `stop` says so (checked after each step).
    package func run(until time: Instant, stop: (Simulator) -> Bool = { _ in false }) {
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
            nodes[i].wakeAt = nil
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
            deliver(packet, to: Int(to), from: Int(from), via: via, bytes: bytes, injected: injected, payload: payload)
        }
    }

    /// Hand a packet that arrived to its receiver's core (unless the receiver is paused, or
    /// misbehaves by ignoring it).
    func deliver(_ packet: Packet, to i: Int, from: Int, via: Transport, bytes: Int32, injected: Bool, payload: Payload)
    {
        guard nodes[i].isUp, !deferredWhilePaused(payload, node: i) else { return }
        mixTrace(3, UInt64(i) << 32 | UInt64(from))
        mixTrace(4, UInt64(packet.message.kind.rawValue) << 16 | UInt64(packet.updates.count))
        onDeliver?(self, i, from, packet, injected)
        if nodes[i].behaviour.ignores(packet) { return }
        // Its size on the wire, for the byte rate limit (measured once, when sent).
        deliveringFrom = from
        let effects = nodes[i].core!.receive(
            packet, from: nodes[from].address, sender: authenticate ? .verified(nodes[from].id) : .unverified, via: via,
            bytes: authenticate ? Int(bytes) : 0, now: clock(i))
        apply(effects, node: i)
        deliveringFrom = nil
        checkLease(i)
    }

    /// A paused node does nothing until it resumes: its input waits (as in a socket buffer)
    /// and its timers fire late. On resume it reads its socket before running overdue
    /// timers, as a SwiftNIO event loop does (I/O first, then due scheduled tasks).
    func deferredWhilePaused(_ payload: Payload, node i: Int) -> Bool {
        guard nodes[i].pausedUntil > now else { return false }
        if case .wake = payload {
            queue.push(payload, at: nodes[i].pausedUntil + .nanoseconds(1))
        } else {
            queue.push(payload, at: nodes[i].pausedUntil)
        }
        return true
    }

    func mixTrace(_ tag: UInt64, _ value: UInt64) {
        traceHash = SplitMix64.mix(traceHash ^ (UInt64(bitPattern: now.nanoseconds) &* 31 &+ tag &* 0x1000193 &+ value))
    }

    // MARK: Effects

    func apply(_ effects: [Effect], node i: Int) {
        var ownDurable: UInt64 = 0
        var ownEvents: UInt64 = 0
        defer {
            // Durable at once in the model: the node may now send its writes and events.
            if ownDurable > 0 { command(i) { core, now in core.recordsDurable(through: ownDurable, now: now) } }
            if ownEvents > 0 { command(i) { core, now in core.eventsDurable(through: ownEvents, now: now) } }
        }
        for effect in effects {
            switch effect {
            case .send(let packet, let peer, let via):
                // An offender's sends pass through its misbehaviour first.
                guard let packet = nodes[i].behaviour.outgoing(packet, from: nodes[i].id) else { continue }
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
                if e.id.origin == nodes[i].id { ownEvents = max(ownEvents, e.id.counter) }
            case .persist(.member):
                // In a real node's log for its readers; a restart rebuilds from records and
                // events only (as `EventLog.loadState`), so the model only counts them.
                nodes[i].durableLogEntries += 1
            case .persist(.collected(let keys)):
                nodes[i].durableLogEntries += keys.count
            case .wake(let at):
                var t = trueTime(i, at)
                // Up to `timerLatenessMax` late, both ends included.
                if timerLatenessMax > .zero { t += timerRng.duration(below: timerLatenessMax + .nanoseconds(1)) }
                if nodes[i].wakeAt.map({ t < $0 }) ?? true {
                    nodes[i].wakeAt = t
                    nodes[i].wakeGeneration &+= 1
                    queue.push(.wake(node: Int32(i), generation: nodes[i].wakeGeneration), at: max(t, now))
                }
            }
        }
    }

    // MARK: Observations

    package var upNodes: [Int] { nodes.indices.filter { nodes[$0].isUp } }
}
