import ArgumentParser
import ColonyCore
import ColonySimulator
import Foundation

/// `colony fuzz --adversary`: a hostile member against a formed hive (`AdversaryFuzzer`).
/// Passes when no sequence trapped, none took more than `--max-input-ms` of CPU time and no
/// answer to a bystander outweighed its request; a trap ends the
/// process after the seed was printed, and the same seed and count replay it exactly.
extension FuzzCommand {
    func runAdversary(seed seedValue: UInt64) throws {
        guard (8...200).contains(hiveNodes) else {
            throw ValidationError("--hive-nodes must be in 8...200 (a hive forms from 8)")
        }
        FileHandle.standardError.write(
            Data("fuzz --adversary seed: \(seed) sequences: \(inputs) hive: \(hiveNodes) nodes\n".utf8))
        let clock = ContinuousClock()
        let formStarted = clock.now
        var fuzzer = try AdversaryFuzzer(seed: seedValue, nodes: hiveNodes)
        let formed = clock.now - formStarted
        let started = clock.now
        var slowest: Duration = .zero
        for n in 0..<inputs {
            let t0 = ThreadCPUClock.now()
            fuzzer.one(withKey: n % 2 == 0)
            slowest = max(slowest, ThreadCPUClock.now() - t0)
            if n % 100_000 == 0 && n > 0 && !json {
                FileHandle.standardError.write(Data("  \(n) sequences\n".utf8))
            }
        }
        let seconds = (clock.now - started).seconds
        let slowestMs = slowest.seconds * 1000
        let c = fuzzer.counts
        let ok = slowestMs <= maxInputMs && c.amplified == 0
        if json {
            let report = AdversaryFuzzReport(
                sequences: c.sequences, seed: seed, hiveNodes: hiveNodes, packets: c.packets, ticks: c.ticks,
                byKind: c.byKind, reached: c.reached, sequencesPerSecond: Int(Double(inputs) / max(seconds, 1e-9)),
                slowestSequenceMs: (slowestMs * 1000).rounded() / 1000, formSeconds: formed.seconds,
                bystander: .init(
                    packets: c.bystanderPackets, bytes: c.bystanderBytes, answerBytes: c.bystanderAnswerBytes,
                    amplified: c.amplified),
                passed: ok)
            try Self.printJSON(report)
        } else {
            print(
                "sequences \(c.sequences) · packets \(c.packets) · timer runs \(c.ticks) · hive formed in "
                    + String(format: "%.1f s", formed.seconds))
            print("by kind: " + c.byKind.keys.sorted().map { "\($0) \(c.byKind[$0]!)" }.joined(separator: ", "))
            print("reached: " + c.reached.keys.sorted().map { "\($0) \(c.reached[$0]!)" }.joined(separator: ", "))
            print(String(format: "%.0f sequences/s · slowest %.3f ms", Double(inputs) / seconds, slowestMs))
            print(
                "spoofed from a bystander: \(c.bystanderPackets) packets, \(c.bystanderBytes) bytes; answered with "
                    + "\(c.bystanderAnswerBytes) bytes; answers larger than their request: \(c.amplified)")
            if c.amplified > 0 {
                print("FAILED: \(c.amplified) answers to a bystander outweighed their request")
            } else {
                print(
                    ok ? "passed: no trap, no hang" : "FAILED: slowest sequence \(slowestMs) ms (limit \(maxInputMs))")
            }
        }
        if !ok { throw ExitCode(1) }
    }
}

/// What `colony fuzz --adversary --json` prints (one object, keys sorted).
struct AdversaryFuzzReport: Encodable {
    var sequences: Int
    var seed: String
    var hiveNodes: Int
    var packets: Int
    var ticks: Int
    var byKind: [String: Int]
    var reached: [String: Int]
    var sequencesPerSecond: Int
    var slowestSequenceMs: Double
    var formSeconds: Double
    /// Packets spoofed from a bystander's address, and what the victims sent it back.
    var bystander: Bystander
    var passed: Bool

    struct Bystander: Encodable {
        var packets: Int
        var bytes: Int
        var answerBytes: Int
        var amplified: Int
    }
}
