import Testing

@testable import ColonyCore

/// The `Hive` machine on its own: randomised election timeouts (Raft §5.2).
@Suite struct HiveMachineTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func electionTimeoutsStayInTheirWindowAndSpread(seed: UInt64) {
        var hive = Hive(boot: 1, bootedAt: .zero, rng: Xoshiro256(seed: seed))
        let settings = HiveSettings()
        let lo = settings.electionTimeoutMin.nanosecondsInt64
        let hi = settings.electionTimeoutMax.nanosecondsInt64
        var drawn: Set<Int64> = []
        for _ in 0..<200 {
            let t = hive.randomElectionTimeout(settings)
            #expect(t >= lo && t < hi)
            drawn.insert(t / 1_000_000)
        }
        #expect(drawn.count > 50, "timeouts spread over the window (ms buckets hit: \(drawn.count))")
    }

    @Test func aDegenerateWindowStillGivesItsMinimum() {
        var hive = Hive(boot: 1, bootedAt: .zero, rng: Xoshiro256(seed: 9))
        var settings = HiveSettings()
        settings.electionTimeoutMax = settings.electionTimeoutMin
        #expect(hive.randomElectionTimeout(settings) == settings.electionTimeoutMin.nanosecondsInt64)
    }
}
