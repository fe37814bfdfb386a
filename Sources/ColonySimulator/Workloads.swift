import ColonyCore

// The workloads the scenarios put on a swarm: writes, broadcasts (user events) and their
// tracking.

extension Simulation.Context {
    /// Random writes from `start` until `end`, ~20/s swarm-wide, from random nodes to random
    /// `keys`: 60% last-writer-wins, 25% read-modify-write with the read's context, 15%
    /// blind (concurrent by construction); 10% of all are deletes.
    mutating func scheduleRandomWrites(from start: Instant, until end: Instant, keys: [String]) {
        var t = start
        var writeNo = 0
        while t < end {
            t += rng.duration(below: .milliseconds(100))
            let node = rng.below(n)
            let key = keys[rng.below(keys.count)]
            let style = rng.below(100)
            let delete = rng.below(10) == 0
            writeNo += 1
            let value: [UInt8]? = delete ? nil : Array("v\(writeNo)".utf8)
            sim.schedule(at: t) { s in
                guard s.nodes[node].isUp, let core = s.nodes[node].core else { return }
                if style < 60 {
                    s.put(node, key: key, value: value)
                } else if style < 85 {
                    s.put(node, key: key, value: value, read: core.get(key))
                } else {
                    s.put(node, key: key, value: value, read: ReadResult(siblings: [], context: CausalContext()))
                }
            }
        }
    }

    /// Send `count` events from random up nodes (`senders`, if given) spread over `window`.
    mutating func scheduleBroadcasts(
        _ count: Int, from start: Instant, over window: Duration, tracker: BroadcastTracker, senders: [Int]? = nil
    ) {
        for k in 0..<count {
            let at = start + rng.duration(below: window)
            let pick = rng.next()
            sim.schedule(at: at) { s in
                let pool = senders ?? s.upNodes
                let up = pool.filter { s.nodes[$0].isUp }
                guard !up.isEmpty else { return }
                let i = up[Int(pick % UInt64(up.count))]
                if let e = s.event(i, name: "b", payload: Array("broadcast \(k)".utf8)) {
                    tracker.sent(e.id, from: i, at: s.now)
                }
            }
        }
    }

    /// Count every delivery of a broadcast into `tracker`; `also` sees every event too.
    func trackBroadcasts(_ tracker: BroadcastTracker, also: ((Simulator, Int, Event) -> Void)? = nil) {
        sim.onEvent = { s, i, event in
            if case .userEvent(let e, _) = event { tracker.delivered(e.id, at: i, from: s.deliveringFrom, time: s.now) }
            also?(s, i, event)
        }
    }

    /// The broadcasts' measures into `result`: delivery, redundancy (payloads sent since
    /// `sentBefore`), last delivery hop, latency, and packets refused by rate limits.
    func finishBroadcasts(_ result: inout SimulationResult, tracker: BroadcastTracker, sentBefore: Int) {
        result.hive.broadcasts = tracker.order.count
        result.hive.deliveryRatio =
            tracker.expected == 0 ? nil : Double(tracker.delivered) / Double(tracker.expected)
        // Only the receivers that could deliver count (after a mass crash, the survivors).
        let perBroadcast = Double(max(1, tracker.order.count)) * Double(max(1, tracker.receivers.count - 1))
        result.hive.rmr = Double(sim.payloadsSent - sentBefore) / perBroadcast - 1
        result.hive.ldh = tracker.order.compactMap { tracker.items[$0]!.holders.values.max() }.max()
        result.hive.broadcastLatency = Distribution(
            tracker.order.map { (tracker.items[$0]!.lastAt - tracker.items[$0]!.sentAt).inMilliseconds })
        result.hive.rateLimited = sim.nodes.compactMap { $0.core?.stats.trust.rateLimited }.reduce(0, +)
    }
}

/// Per broadcast: when it was sent, who holds it, and at how many hops (Plumtree's
/// measures: relative message redundancy, delivery, last delivery hop). Deliveries are
/// counted as they happen among `receivers`, so "all delivered?" costs nothing per step.
final class BroadcastTracker {
    struct Item {
        var origin: Int
        var sentAt: Instant
        var holders: [Int: Int] = [:] // node → hops
        var lastAt: Instant
    }

    /// The nodes whose deliveries count (the origin of each broadcast excepted), and whose
    /// last delivery times a broadcast (others, such as later joiners, only relay).
    let receivers: Set<Int>
    var items: [Dot: Item] = [:]
    var order: [Dot] = []
    private(set) var delivered = 0
    private(set) var expected = 0

    init(receivers: Set<Int>) { self.receivers = receivers }

    var allDelivered: Bool { delivered == expected }

    func sent(_ id: Dot, from origin: Int, at t: Instant) {
        items[id] = Item(origin: origin, sentAt: t, holders: [origin: 0], lastAt: t)
        order.append(id)
        expected += receivers.count - (receivers.contains(origin) ? 1 : 0)
    }

    func delivered(_ id: Dot, at node: Int, from sender: Int?, time: Instant) {
        guard var item = items[id], item.holders[node] == nil else { return }
        let hop = sender.flatMap { item.holders[$0] }.map { $0 + 1 } ?? 1
        item.holders[node] = hop
        items[id] = item
        guard receivers.contains(node) else { return }
        items[id]!.lastAt = time
        delivered += 1
    }
}
