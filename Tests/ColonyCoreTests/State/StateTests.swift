import Testing

@testable import ColonyCore

/// A tiny harness: writers with their own counters and clocks, and replicas that receive
/// records in any order.
struct Writer {
    let id: NodeID
    var counter: UInt64 = 0
    var clock = HybridClock()
    /// Per key, this writer's previous write (a node always knows its own writes).
    var last: [String: UInt64] = [:]
    /// Counters are shared across keys, as in the node: other keys' writes leave gaps.
    var stride: UInt64 = 1

    mutating func write(_ key: String, _ value: [UInt8]?, context: CausalContext, wallMs: UInt64) -> StateRecord {
        counter += stride
        defer { last[key] = counter }
        return StateRecord(
            key: key, value: value, dot: Dot(origin: id, counter: counter), prev: last[key] ?? 0, context: context,
            timestamp: clock.now(wallMs: wallMs))
    }
}

@Suite(.tags(.machine)) struct KeyStateTests {
    @Test func causallyOrderedWritesFromManyNodesNeverProduceSiblings() {
        var rng = Xoshiro256(seed: 7)
        var writers = (0..<5).map { Writer(id: Fixture.id($0)) }
        var replicas = Array(repeating: KeyState(), count: 4)
        var authority = KeyState() // holds every write: what a writer reads before writing
        var inFlight: [(replica: Int, record: StateRecord)] = []
        for step in 0..<500 {
            let w = rng.below(writers.count)
            let r = writers[w].write("k", [UInt8(step & 0xFF)], context: authority.read.context, wallMs: UInt64(step))
            authority.apply(r)
            for i in replicas.indices { inFlight.append((i, r)) }
            // Deliver a random subset in random order (reordering, delays).
            for _ in 0..<rng.below(inFlight.count + 1) {
                let m = inFlight.remove(at: rng.below(inFlight.count))
                replicas[m.replica].apply(m.record)
                #expect(
                    replicas[m.replica].siblings.count <= 1, "a causally later write must replace, never sit beside")
            }
        }
        for m in inFlight { replicas[m.replica].apply(m.record) }
        for r in replicas {
            #expect(r.siblings.count == 1)
            #expect(r == authority)
            #expect(r.read.context.count <= writers.count, "metadata grows with writers, not writes")
        }
    }

    @Test func concurrentWritesAreSiblingsUntilAWriteWithTheirContextResolvesThem() {
        var a = Writer(id: Fixture.id(1))
        var b = Writer(id: Fixture.id(2))
        var replica = KeyState()
        let base = a.write("k", [0], context: CausalContext(), wallMs: 1)
        replica.apply(base)
        let ctx = replica.read.context
        // Both wrote after reading the same base: concurrent.
        let fromA = a.write("k", [1], context: ctx, wallMs: 5)
        let fromB = b.write("k", [2], context: ctx, wallMs: 6)
        #expect(replica.apply(fromA) == .applied(superseded: [base]))
        #expect(replica.apply(fromB) == .applied(superseded: []))
        #expect(Set(replica.read.siblings.map(\.value)) == [[1], [2]])
        #expect(replica.read.value == [2], "convenience read: last writer wins on the hybrid clock")
        // A write carrying the read context resolves both.
        let resolved = a.write("k", [3], context: replica.read.context, wallMs: 7)
        #expect(replica.apply(resolved) == .applied(superseded: [fromA, fromB]))
        #expect(replica.siblings.map(\.value) == [[3]])
        // Late, duplicate and obsolete arrivals change nothing.
        #expect(replica.apply(fromA) == .obsolete)
        #expect(replica.apply(resolved) == .duplicate)
    }

    @Test func replicasConvergeWhateverTheOrder() {
        var rng = Xoshiro256(seed: 99)
        // A random history with both causal and concurrent writes.
        var writers = (0..<4).map { Writer(id: Fixture.id($0)) }
        var views = Array(repeating: KeyState(), count: writers.count)
        var all: [StateRecord] = []
        for step in 0..<200 {
            let w = rng.below(writers.count)
            let value: [UInt8]? = rng.chance(0.1) ? nil : [UInt8(step & 0xFF)]
            let r = writers[w].write("k", value, context: views[w].read.context, wallMs: UInt64(step / 3))
            all.append(r)
            views[w].apply(r)
            // Writers learn some of each other's writes now and then.
            if rng.chance(0.3) {
                let other = rng.below(writers.count)
                for x in all where rng.chance(0.5) { views[other].apply(x) }
            }
        }
        var reference = KeyState()
        for r in all { reference.apply(r) }
        for _ in 0..<20 {
            var shuffled = all
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, rng.below(i + 1)) }
            var replica = KeyState()
            for r in shuffled { replica.apply(r) }
            for r in shuffled.prefix(50) { replica.apply(r) } // duplicates
            #expect(replica == reference)
            #expect(replica.read.winner == reference.read.winner, "the same answer on every node")
        }
        #expect(reference.siblings.count >= 1)
    }

    @Test func lastWriterWinsTiesBreakByNodeID() {
        let ctx = CausalContext()
        let t = HLCTimestamp(physicalMs: 10, logical: 0)
        let low = StateRecord(
            key: "k", value: [1], dot: Dot(origin: NodeID(high: 1, low: 0), counter: 1), prev: 0, context: ctx,
            timestamp: t)
        let high = StateRecord(
            key: "k", value: [2], dot: Dot(origin: NodeID(high: 2, low: 0), counter: 1), prev: 0, context: ctx,
            timestamp: t)
        var s = KeyState()
        s.apply(high)
        s.apply(low)
        #expect(s.read.winner == high)
        #expect(s.read.siblings.count == 2)
    }

    @Test func deletesAreTombstonesThatWinLikeWrites() {
        var a = Writer(id: Fixture.id(1))
        var s = KeyState()
        s.apply(a.write("k", [1], context: CausalContext(), wallMs: 1))
        s.apply(a.write("k", nil, context: s.read.context, wallMs: 2))
        #expect(s.siblings.count == 1)
        #expect(s.siblings[0].isTombstone)
        #expect(s.read.value == nil)
    }
}

@Suite(.tags(.machine)) struct HybridClockTests {
    @Test func timestampsAreMonotonicAndFollowRemoteTime() {
        var c = HybridClock()
        let t1 = c.now(wallMs: 100)
        let t2 = c.now(wallMs: 100)
        let t3 = c.now(wallMs: 90) // the wall clock stepped back
        #expect(t1 < t2 && t2 < t3)
        c.observe(HLCTimestamp(physicalMs: 500, logical: 7), wallMs: 120)
        let t4 = c.now(wallMs: 130)
        #expect(t4 > HLCTimestamp(physicalMs: 500, logical: 7), "a write after seeing a remote one is later than it")
        #expect(c.now(wallMs: 1_000) == HLCTimestamp(physicalMs: 1_000, logical: 0))
    }

    @Test func versionVectorsMergeAndCover() {
        var v = VersionVector([Dot(origin: Fixture.id(2), counter: 3), Dot(origin: Fixture.id(1), counter: 5)])
        #expect(v.covers(Dot(origin: Fixture.id(1), counter: 5)))
        #expect(!v.covers(Dot(origin: Fixture.id(1), counter: 6)))
        #expect(!v.covers(Dot(origin: Fixture.id(9), counter: 1)))
        v.merge(VersionVector([Dot(origin: Fixture.id(1), counter: 2), Dot(origin: Fixture.id(3), counter: 1)]))
        #expect(v[Fixture.id(1)] == 5 && v[Fixture.id(3)] == 1 && v.count == 3)
        #expect(v.dominates(VersionVector([Dot(origin: Fixture.id(2), counter: 1)])))
        #expect(
            v
                == VersionVector([
                    Dot(origin: Fixture.id(3), counter: 1), Dot(origin: Fixture.id(1), counter: 5),
                    Dot(origin: Fixture.id(2), counter: 3),
                ]), "order of construction does not matter")
    }
}
