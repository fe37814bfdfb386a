/// The core's pending timers, as values (foca's timer events): a binary min-heap ordered by
/// deadline and then by scheduling order, so equal deadlines fire deterministically.
/// Timers are never cancelled; a handler checks that what it was for still holds.
struct TimerQueue: Sendable {
    /// Which sub-machine a timer belongs to, and that machine's own timer.
    enum Kind: Sendable, Equatable {
        case membership(Membership.Timer)
        case dissemination(Dissemination.Timer)
        case state(ReplicatedState.Timer)
        case trust(Trust.Timer)
        case hive(Hive.Timer)
        case router(Router.Timer)
    }

    struct Timer: Sendable {
        var at: Instant
        var order: UInt64
        var kind: Kind
    }

    private var heap: [Timer] = []
    private var nextOrder: UInt64 = 0
    /// The deadline last reported to the driver as a wake-up.
    private var reported: Instant?

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

    /// The earliest deadline, if it is not the one last reported (the driver keeps one wake).
    mutating func wakeToReport() -> Instant? {
        guard let e = earliest, e != reported else { return nil }
        reported = e
        return e
    }

    private func less(_ a: Timer, _ b: Timer) -> Bool {
        a.at != b.at ? a.at < b.at : a.order < b.order
    }
}
