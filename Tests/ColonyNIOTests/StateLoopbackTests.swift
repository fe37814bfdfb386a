import ColonyCore
import ColonyNIO
import ColonyStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// Replicated state, events, queries and the event log over real sockets.
@Suite(.serialized, .tags(.loopback)) struct StateLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()

    func node(_ name: String, dataDirectory: String? = nil, tags: [String: String] = [:], settings: Settings = .local)
        -> ColonyNode
    {
        var c = ColonyNode.Configuration(
            name: name, bind: Address(host: "127.0.0.1", port: 0), settings: settings, dataDirectory: dataDirectory)
        c.tags = tags
        return ColonyNode(configuration: c, logger: logs.logger(name), eventLoopGroup: group)
    }

    func tempDir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("colony-state-\(UUID().uuidString)").path
        return d
    }

    @Test func writesOnEveryNodeReachEveryNode() async throws {
        let nodes = (0..<4).map { node("s\($0)") }
        try await startSwarm(nodes)
        for (i, x) in nodes.enumerated() {
            for k in 0..<5 { try await x.put("n\(i)/k\(k)", value: Array("v\(i)-\(k)".utf8)) }
        }
        // A large value goes by stream gossip.
        let big = [UInt8](repeating: 7, count: 60_000)
        try await nodes[1].put("big", value: big)
        let agreed = await eventually(15) {
            var digests: Set<String> = []
            for x in nodes {
                let s = await x.stateSummary()
                if s.keys != 21 { return false }
                digests.insert(s.digest)
            }
            return digests.count == 1
        }
        #expect(agreed, "every node must end with the same 21 keys")
        let read = try await nodes[3].get("n0/k4")
        #expect(read.value == Array("v0-4".utf8))
        #expect(try await nodes[2].get("big").value == big)
        let listed = try await nodes[0].list(prefix: "n2/")
        #expect(listed.map(\.key) == (0..<5).map { "n2/k\($0)" })
        for x in nodes { await x.stop() }
    }

    @Test func badWritesAreClearErrorsAndChangeNothing() async throws {
        let x = node("solo")
        _ = try await x.start()
        await #expect(throws: StateError.emptyKey) { try await x.put("", value: [1]) }
        await #expect(throws: StateError.valueTooLarge(bytes: 64 * 1024 + 1, max: 64 * 1024)) {
            try await x.put("k", value: [UInt8](repeating: 0, count: 64 * 1024 + 1))
        }
        #expect(await x.stateSummary().records == 0)
        await x.stop()
    }

    @Test func stateAndLogSurviveARestart() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = node("durable", dataDirectory: dir)
        _ = try await a.start()
        try await a.put("x", value: [1])
        try await a.put("y", value: [2])
        let ctx = try await a.get("x").context
        try await a.put("x", value: [3], context: ctx)
        try await a.delete("y")
        let before = await a.stateSummary()
        let offsetBefore = try await a.logOffset()
        #expect(offsetBefore >= 4)
        await a.stop()

        let b = node("durable", dataDirectory: dir)
        _ = try await b.start()
        let after = await b.stateSummary()
        #expect(after == before, "a node rebuilt from its log has exactly the state it had")
        #expect(try await b.get("x").value == [3])
        #expect(try await b.get("y").value == nil)
        // A new write gets a counter above every restored one.
        let r = try await b.put("z", value: [4])
        #expect(r.dot.counter > 4)
        // Reading the log from the beginning gives every key change in order, then live ones.
        var seen: [String] = []
        let stream = b.log(from: 1)
        Task {
            try? await Task.sleep(for: .milliseconds(200))
            try? await b.put("live", value: [5])
        }
        for try await e in stream where e.record.kind == .key {
            seen.append(e.record.subject)
            if e.record.subject == "live" { break }
        }
        #expect(seen == ["x", "y", "x", "y", "z", "live"])
        await b.stop()
    }

    @Test func eventsAndQueriesReachTheirTargets() async throws {
        let a = node("qa", tags: ["role": "web"])
        let b = node("qb", tags: ["role": "db"])
        let c = node("qc", tags: ["role": "web"])
        let aAddr = try await a.start()
        _ = try await b.start()
        _ = try await c.start()
        try await b.join(seeds: ["\(aAddr)"])
        try await c.join(seeds: ["\(aAddr)"])
        let met = await eventually(10) {
            let na = await a.members(status: .alive).count
            let nc = await c.members(status: .alive).count
            return na == 3 && nc == 3
        }
        #expect(met)
        for x in [a, b, c] {
            let name = x.configuration.name
            x.setQueryHandler { q in Array("\(name):\(String(decoding: q.payload, as: UTF8.self))".utf8) }
        }
        let events = c.events
        try await a.event("deploy", payload: Array("v2".utf8))
        var got: UserEvent?
        for await e in events {
            if case .userEvent(let u, _) = e {
                got = u
                break
            }
        }
        #expect(got?.name == "deploy" && got?.payload == Array("v2".utf8))

        let (_, responses) = try await b.query(
            "who", payload: Array("hi".utf8), filter: QueryFilter(tags: ["role": "web"]), timeout: .seconds(2))
        var answers: [String] = []
        for await r in responses { answers.append(String(decoding: r.payload, as: UTF8.self)) }
        #expect(answers.sorted() == ["qa:hi", "qc:hi"], "only the web members answer, each once")
        for x in [a, b, c] { await x.stop() }
    }
}
