import Testing

@testable import ColonyCore

/// The `ReplicatedState` machine on its own: ids and Lamport times of this node's events.
@Suite(.tags(.machine)) struct ReplicatedStateMachineTests {
    @Test func eventIdsAreFreshAndLamportTimeAdvances() {
        let restartedAt: UInt64 = 5
        var s = ReplicatedState(rng: Xoshiro256(seed: 1), eventCounter: restartedAt << 32)
        let a = s.nextBroadcastID(origin: Fixture.id(0))
        let b = s.nextBroadcastID(origin: Fixture.id(0))
        #expect(a.id != b.id)
        #expect(a.id.counter == restartedAt << 32 + 1, "ids start in a range no earlier run used")
        #expect(b.lamport == a.lamport + 1)
        #expect(s.lamport == b.lamport)
    }

    /// Records from peers, on the machine alone: shape, counting, our own counters, the clock.
    @Test func recordsAreCheckedMergedAndCounted() {
        var s = ReplicatedState(rng: Xoshiro256(seed: 1), eventCounter: 0)
        let me = Fixture.id(0)
        #expect(!ReplicatedState.isWellFormed(RS.record("k", [1], RS.o, 0)), "no counter 0")
        #expect(!ReplicatedState.isWellFormed(RS.record("k", [1], RS.o, 5, prev: 5)), "its predecessor comes before")
        #expect(!ReplicatedState.isWellFormed(RS.record("k", [1], RS.o, maxCounter)), "beyond any real history")
        let a = RS.record("k", [1], RS.o, 1, ms: 1_000)
        #expect(ReplicatedState.isWellFormed(a))
        #expect(s.absorb(a, me: me, wallMs: 1_000, now: .zero) == .applied(superseded: []))
        #expect(s.absorb(a, me: me, wallMs: 1_000, now: .zero) == .duplicate, "delivered twice")
        #expect(s.stats.recordsApplied == 1 && s.stats.recordsRedundant == 1)
        #expect(s.hlc.last.physicalMs == 1_000, "the clock saw it")
    }

    @Test func aRecordOfOursWeForgotKeepsOurCountersAhead() {
        var s = ReplicatedState(rng: Xoshiro256(seed: 1), eventCounter: 0)
        let me = Fixture.id(0)
        _ = s.absorb(RS.record("k", [1], me, 7), me: me, wallMs: 1, now: .zero)
        #expect(s.writeCounter == 7 && s.durableCounter == 7, "our next write cannot reuse counter 7")
        _ = s.absorb(RS.record("j", [1], RS.o, 9), me: me, wallMs: 1, now: .zero)
        #expect(s.writeCounter == 7, "another origin's counters are not ours")
    }

    @Test func aRecordDatedFarAheadDoesNotMoveTheClock() {
        var s = ReplicatedState(rng: Xoshiro256(seed: 1), eventCounter: 0)
        let wall: UInt64 = 1_000_000
        _ = s.absorb(
            RS.record("k", [1], RS.o, 1, ms: wall + maxClockDriftMs + 1), me: Fixture.id(0), wallMs: wall, now: .zero)
        #expect(s.hlc.last.physicalMs <= wall, "beyond the drift bound: held, not observed")
        #expect(s.stats.recordsApplied == 1, "the record itself is still held")
        _ = s.absorb(
            RS.record("j", [1], RS.o, 2, ms: wall + maxClockDriftMs), me: Fixture.id(0), wallMs: wall, now: .zero)
        #expect(s.hlc.last.physicalMs == wall + maxClockDriftMs, "within the bound: observed")
    }

    @Test func signedRecordsShowWhatExisted() {
        var s = ReplicatedState(rng: Xoshiro256(seed: 1), eventCounter: 0)
        let r = RS.record("k", [1], RS.o, 4, context: RS.context([(RS.dot(RS.p, 9), 0), (RS.dot(RS.o, 2), 0)]))
        s.noteEvidence(r)
        #expect(s.evidenced[RS.o] == 4 && s.evidenced[RS.p] == 9)
        s.noteEvidence(RS.record("k", [1], RS.o, 3))
        #expect(s.evidenced[RS.o] == 4, "evidence only grows")
    }
}
