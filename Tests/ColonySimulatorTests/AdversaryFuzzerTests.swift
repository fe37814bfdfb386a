import ColonyCore
import ColonySimulator
import Testing

/// The hostile member against a formed hive (issue 18). `colony fuzz --adversary` runs a
/// million sequences in CI; this runs a few thousand so a trap shows in `swift test` too.
@Suite(.tags(.simulation, .hostile)) struct AdversaryFuzzerTests {
    @Test(arguments: [1, 2] as [UInt64])
    func aHostileMemberCannotTrapAnyVictim(seed: UInt64) throws {
        var fuzzer = try AdversaryFuzzer(seed: seed, nodes: 10)
        for n in 0..<3_000 { fuzzer.one(withKey: n % 2 == 0) }
        let c = fuzzer.counts
        // Reproduce: swift run -c release colony fuzz --adversary --seed <seed> --hive-nodes 10 --inputs 3000
        #expect(c.sequences == 3_000)
        #expect(Set(c.byKind.keys).isSuperset(of: MessageKind.allCases.map(\.description)), "every kind sent")
        #expect((c.reached["refused out of range"] ?? 0) > 0, "edges were refused at the gate")
        #expect((c.reached["refused signature"] ?? 0) > 0, "forgeries were refused")
        #expect((c.reached["suspicions raised"] ?? 0) > 0 && (c.reached["refutations"] ?? 0) > 0, "handlers reached")
        // No amplification: packets spoofed from a bystander drew no answer larger than themselves.
        #expect(c.bystanderPackets > 100)
        #expect(c.amplified == 0, "\(c.amplified) answers outweighed their request")
        #expect(c.bystanderAnswerBytes <= c.bystanderBytes)
    }

    @Test func theSameSeedReplaysTheSameSequences() throws {
        var a = try AdversaryFuzzer(seed: 5, nodes: 10)
        var b = try AdversaryFuzzer(seed: 5, nodes: 10)
        for n in 0..<300 {
            a.one(withKey: n % 2 == 0)
            b.one(withKey: n % 2 == 0)
        }
        #expect(a.counts == b.counts)
    }
}
