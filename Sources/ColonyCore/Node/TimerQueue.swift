/// The core's pending timers, as values (foca's timer events): a binary min-heap ordered by
/// deadline and then by scheduling order, so equal deadlines fire deterministically.
/// Timers are never cancelled; a handler checks that what it was for still holds.
struct TimerQueue: Sendable {
    enum Kind: Sendable, Equatable {
        /// End the current probe round and start the next.
        case probe
        /// The direct ping of probe `seq` is overdue: ask helpers.
        case probeTimeout(UInt32)
        /// As a helper, the ping we sent for a requester (our `seq`) is overdue: nack.
        case helperTimeout(UInt32)
        case gossip
        case pushPull
        case joinSync
        case reconnect
        case reap
        case suspicion(NodeID, UInt64)
        case exchangeTimeout(UInt32)
        case joinRetry
        case leaveTimeout
        case stateCollect
        case stateSync
        case queryDeadline(UInt64)
        case scoreDecay
        /// Judge the helpers asked for probe `seq`: the silent ones were freeloading.
        case helperAudit(UInt32)
        /// Forget an audit ping nobody answered.
        case auditPingTimeout(UInt32)
        /// The hive: a queen's heartbeat round, a worker's election check, a homeless
        /// member's search for a cell, and pulling announced ids that did not arrive.
        case hiveHeartbeat
        case hiveElection
        case hiveHome
        case graft
        /// Send what waits to go up or down the tree (paced).
        case relay
    }

    struct Timer: Sendable {
        var at: Instant
        var order: UInt64
        var kind: Kind
    }

    private var heap: [Timer] = []
    private var nextOrder: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var earliest: Instant? { heap.first?.at }

    mutating func schedule(_ kind: Kind, at: Instant) {
        nextOrder += 1
        heap.append(Timer(at: at, order: nextOrder, kind: kind))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if less(heap[i], heap[parent]) {
                heap.swapAt(i, parent)
                i = parent
            } else {
                break
            }
        }
    }

    /// Remove and return the earliest timer if it is due at `now`.
    mutating func popDue(_ now: Instant) -> Timer? {
        guard let first = heap.first, first.at <= now else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return first
    }

    mutating func removeAll() { heap.removeAll() }

    private func less(_ a: Timer, _ b: Timer) -> Bool {
        a.at != b.at ? a.at < b.at : a.order < b.order
    }
}
