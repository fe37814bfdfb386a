import ColonyCore
import ColonyStore
import Foundation
import Testing

/// The event log's entries come from the core's `.persist` effects alone.
@Suite(.tags(.storage)) struct PersistedLogEntriesTests {
    let origin = NodeID(high: 1, low: 2)

    func record(_ key: String, _ value: [UInt8]?, counter: UInt64) -> StateRecord {
        StateRecord(
            key: key, value: value, dot: Dot(origin: origin, counter: counter), prev: counter - 1,
            context: CausalContext(), timestamp: HLCTimestamp(physicalMs: 5, logical: 0))
    }

    @Test func eachPersistedValueIsOneCompleteEntry() throws {
        let r = record("k", [1], counter: 2)
        let change = KeyChange(
            record: r, superseded: [Dot(origin: origin, counter: 1)], siblings: 1, local: true)
        let key = LogRecord.entries(for: .record(change), atMs: 7)
        #expect(key.count == 1)
        #expect(key[0].kind == .key && key[0].subject == "k" && key[0].atMs == 7)
        #expect(key[0].data == Wire.encode(.record(r)))
        #expect(
            key[0].info
                == "{\"origin\":\"\(origin)\",\"counter\":2,\"local\":true,\"siblings\":1,\"superseded\":[\"\(origin):1\"]}"
        )
        let covered = LogRecord.entries(for: .covered(r), atMs: 7)
        #expect(covered.map(\.kind) == [.covered] && covered[0].data == Wire.encode(.record(r)))
        let m = Member(id: origin, name: "n", address: Address(host: "10.0.0.1", port: 7946), incarnation: 3)
        let member = LogRecord.entries(for: .member(m, previous: nil), atMs: 7)
        #expect(member.map(\.kind) == [.member] && member[0].subject == origin.description)
        #expect(member[0].info == "{\"status\":\"alive\",\"previous\":null}")
        let collected = LogRecord.entries(for: .collected(["a", "b"]), atMs: 7)
        #expect(collected.map(\.kind) == [.collected, .collected] && collected.map(\.subject) == ["a", "b"])
        #expect(LogRecord.entries(for: .incarnation(4), atMs: 7).isEmpty, "the incarnation lives in the store")
    }

    @Test func theStateIsRebuiltFromWhatWasPersisted() async throws {
        let log = try EventLog()
        let a = record("a", [1], counter: 1)
        let b = record("b", nil, counter: 2)
        let persisted: [Persisted] = [
            .record(KeyChange(record: a, superseded: [], siblings: 1, local: false)),
            .covered(b), .collected(["b"]),
        ]
        _ = try await log.append(persisted.flatMap { LogRecord.entries(for: $0, atMs: 1) })
        let restored = try log.loadState(recentEvents: 10)
        #expect(restored.records == [a, b])
        #expect(try log.count() == 3)
    }
}
