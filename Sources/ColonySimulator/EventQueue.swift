import ColonyCore

/// The simulator's agenda: events ordered by virtual time, then by scheduling order, so equal
/// times replay identically. The heap holds small keys; payloads sit in a slab with a free
/// list, so sifting never moves packets around.
struct EventQueue<Payload> {
    private struct Key {
        var time: Instant
        var seq: UInt64
        var slot: Int32
    }

    private var heap: [Key] = []
    private var slab: [Payload?] = []
    private var free: [Int32] = []
    private var nextSeq: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Instant? { heap.first?.time }

    mutating func push(_ payload: Payload, at time: Instant) {
        let slot: Int32
        if let s = free.popLast() {
            slot = s
            slab[Int(s)] = payload
        } else {
            slot = Int32(slab.count)
            slab.append(payload)
        }
        nextSeq += 1
        heap.append(Key(time: time, seq: nextSeq, slot: slot))
        var i = heap.count - 1
        let k = heap[i]
        while i > 0 {
            let p = (i - 1) >> 1
            if less(k, heap[p]) {
                heap[i] = heap[p]
                i = p
            } else {
                break
            }
        }
        heap[i] = k
    }

    mutating func pop() -> (time: Instant, payload: Payload)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let r = l + 1
                let c = (r < n && less(heap[r], heap[l])) ? r : l
                if less(heap[c], last) {
                    heap[i] = heap[c]
                    i = c
                } else {
                    break
                }
            }
            heap[i] = last
        }
        let payload = slab[Int(top.slot)].take()!
        free.append(top.slot)
        return (top.time, payload)
    }

    @inline(__always)
    private func less(_ a: Key, _ b: Key) -> Bool { a.time != b.time ? a.time < b.time : a.seq < b.seq }
}
