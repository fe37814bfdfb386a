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
}
