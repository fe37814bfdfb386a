import ColonyCore

/// The faults in force: which phase the checkers are in, partitions, broken links and
/// misbehaving nodes.
struct FaultState {
    /// True while no fault is active: then no up, reachable member may be declared dead.
    var strict = true
    var partitioned = false
    /// Node pairs whose direct path is broken both ways. Keys are `Simulator.linkKey`.
    var brokenLinks: Set<UInt64> = []
    /// How many nodes misbehave.
    var misbehaving = 0
    /// Each node's own loss (gray failure, one-way loss, flip-flop), by index; empty when no
    /// node has any (the common case costs nothing).
    var hostLoss: [HostLoss] = []
}

/// The share of packets a host loses on its way out and on its way in, on top of the
/// network's loss.
package struct HostLoss: Sendable, Equatable {
    public var inbound: Double
    public var outbound: Double

    public init(inbound: Double = 0, outbound: Double = 0) {
        self.inbound = inbound
        self.outbound = outbound
    }

    public static let none = HostLoss()
}

// MARK: Injecting faults

extension Simulator {
    public enum CrashKind: Sendable {
        /// The machine vanishes: packets and connections to it go unanswered.
        case host
        /// The process dies on a live machine: its port refuses connections.
        case process
    }

    /// True while no fault is active: then no up, reachable member may be declared dead.
    package var strict: Bool {
        get { faults.strict }
        set { faults.strict = newValue }
    }

    package var partitioned: Bool { faults.partitioned }

    /// Node pairs whose direct path is broken both ways (flaky links: indirect probing
    /// routes around them). Keys are `min << 32 | max`.
    package var brokenLinks: Set<UInt64> {
        get { faults.brokenLinks }
        set { faults.brokenLinks = newValue }
    }

    /// How many nodes misbehave (the abuse scenario's offenders).
    package var misbehaving: Int { faults.misbehaving }

    /// `strict`, and no fault the simulator injects is active: broken links and misbehaving
    /// nodes are faults too (a death verdict then counts as a false positive, not a
    /// violated invariant).
    package var faultFree: Bool {
        faults.strict && faults.brokenLinks.isEmpty && faults.misbehaving == 0 && faults.hostLoss.isEmpty
    }

    /// Node `i` loses this share of what it sends and receives from now on (`.none`: clean).
    package func setHostLoss(_ i: Int, _ loss: HostLoss) {
        if faults.hostLoss.isEmpty {
            guard loss != .none else { return }
            faults.hostLoss = Array(repeating: .none, count: nodes.count)
        }
        faults.hostLoss[i] = loss
        if faults.hostLoss.allSatisfy({ $0 == .none }) { faults.hostLoss = [] }
    }

    /// Crash node `i`: it stops at once, losing all volatile state (not what it persisted).
    package func crash(_ i: Int, kind: CrashKind = .host) {
        guard nodes[i].isUp else { return }
        nodes[i].refusesStreams = kind == .process
        nodes[i].isUp = false
        nodes[i].core = nil
        nodes[i].wakeGeneration &+= 1
        nodes[i].wakeAt = nil
        nodes[i].restarts += 1
    }

    /// Stall node `i` for `span`: nothing it would do happens until then; packets for it wait
    /// (as in a socket buffer) and its timers fire late.
    package func pause(_ i: Int, for span: Duration) {
        guard nodes[i].isUp else { return }
        lastPauseStart[i] = now
        nodes[i].pausedUntil = max(nodes[i].pausedUntil, now + span)
    }

    /// Put nodes into partition groups; packets cross groups only when `group` is equal.
    package func partition(_ groups: [UInt8]) {
        precondition(groups.count == nodes.count)
        for i in nodes.indices { nodes[i].group = groups[i] }
        faults.partitioned = true
    }

    package func heal() {
        for i in nodes.indices { nodes[i].group = 0 }
        faults.partitioned = false
    }

    /// Make node `i` honest or one of the offenders (Misbehaviour.swift).
    package func setBehaviour(_ i: Int, _ b: Behaviour) {
        if nodes[i].behaviour == .honest && b != .honest { faults.misbehaving += 1 }
        if nodes[i].behaviour != .honest && b == .honest { faults.misbehaving -= 1 }
        nodes[i].behaviour = b
    }
}

// MARK: Fault schedules

extension Simulation.Context {
    /// Stall node `p` for 1–5 s, run for 1–5 s, and again, until `until`.
    mutating func schedulePauses(_ p: Int, from: Instant, until: Instant) {
        var t = from
        while t < until {
            let stall = .seconds(1) + rng.duration(below: .seconds(4))
            sim.schedule(at: t) { s in s.pause(p, for: stall) }
            t += stall + .seconds(1) + rng.duration(below: .seconds(4))
        }
    }

    /// Crashes with restarts from `start` until `end`: every 6–10 s a random node crashes
    /// (host or process) and comes back 2–6 s later from its durable log, rejoining through
    /// another node.
    mutating func scheduleCrashRestarts(from start: Instant, until end: Instant) {
        var c = start
        while c < end {
            let victim = rng.below(n)
            let kind: Simulator.CrashKind = rng.below(2) == 0 ? .host : .process
            let down = .seconds(2) + rng.duration(below: .seconds(4))
            let seedNode = (victim + 1 + rng.below(n - 1)) % n
            sim.schedule(at: c) { s in s.crash(victim, kind: kind) }
            sim.schedule(at: c + down) { s in
                guard !s.nodes[victim].isUp else { return }
                s.start(victim)
                s.join(victim, seeds: [seedNode])
            }
            c += .seconds(6) + rng.duration(below: .seconds(4))
        }
    }

    /// A partition into `groups` from `start`, healed at `end`.
    func schedulePartition(_ groups: [UInt8], from start: Instant, until end: Instant) {
        sim.schedule(at: start) { s in s.partition(groups) }
        sim.schedule(at: end) { s in s.heal() }
    }

    /// Links broken both ways: 5% of pairs, and at least about three per node in small
    /// swarms, so probes go indirect often. Keys are `Simulator.linkKey(a, b)`.
    mutating func randomBrokenLinks() -> Set<UInt64> {
        var broken: Set<UInt64> = []
        let brokenPerMille = max(50, 3000 / (n - 1))
        for a in 0..<n {
            for b in (a + 1)..<n where rng.below(1000) < brokenPerMille { broken.insert(Simulator.linkKey(a, b)) }
        }
        return broken
    }
}
