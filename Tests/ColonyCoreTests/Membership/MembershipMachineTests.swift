import Testing

@testable import ColonyCore

/// The `Membership` machine on its own: randomised round-robin probing (SWIM §4.3).
@Suite(.tags(.machine)) struct MembershipMachineTests {
    func machine(members: Int, dead: Set<Int>) -> Membership {
        var table = MemberTable()
        for i in 0..<members {
            table.upsert(Fixture.member(i, status: dead.contains(i) ? .dead : .alive), at: .zero)
        }
        return Membership(me: Fixture.member(0), table: table, awareness: Awareness(max: 8))
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func eachRoundProbesEveryLiveMemberOnceAndNeverSelfOrTheDead(seed: UInt64) throws {
        var m = machine(members: 10, dead: [3, 7])
        var rng = Xoshiro256(seed: seed)
        let live = Set([1, 2, 4, 5, 6, 8, 9].map(Fixture.id))
        for round in 0..<3 {
            var seen: [NodeID] = []
            for _ in 0..<live.count {
                let next = m.nextProbeTarget(rng: &rng)
                seen.append(try #require(next).id)
            }
            #expect(Set(seen) == live, "round \(round) (seed \(seed)) probed \(seen)")
            #expect(seen.count == Set(seen).count, "nobody twice in a round")
        }
    }

    @Test func aloneThereIsNobodyToProbe() {
        var m = machine(members: 1, dead: [])
        var rng = Xoshiro256(seed: 1)
        #expect(m.nextProbeTarget(rng: &rng) == nil)
        var onlyDead = machine(members: 3, dead: [1, 2])
        #expect(onlyDead.nextProbeTarget(rng: &rng) == nil)
    }

    @Test func sequenceNumbersWrapInsteadOfTrapping() {
        var m = machine(members: 2, dead: [])
        m.seq = .max
        #expect(m.nextSeq() == 0)
        #expect(m.nextSeq() == 1)
    }
}
