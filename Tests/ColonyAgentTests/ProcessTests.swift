import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

enum Binary {
    /// The built `colony` executable next to the test bundle (`swift build` makes it).
    static var colony: String? {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("colony").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/colony"
        return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
    }

    /// Runs `colony args`; `environment` is added to this process's.
    @discardableResult
    static func run(_ args: [String], environment: [String: String] = [:]) -> (status: Int32, out: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: colony!)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        do { try p.run() } catch { return (-1, "") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Real agent processes on loopback, driven through the CLI as an operator would.
@Suite(.serialized, .enabled(if: Binary.colony != nil, "build the colony executable first (swift build)"))
struct ProcessTests {
    struct M: Decodable {
        var name: String
        var status: String
        var incarnation: UInt64
    }

    let base = 20_000 + Int(getpid() % 2_000) * 10
    let root = NSTemporaryDirectory() + "colony-proc-\(getpid())-\(UUID().uuidString.prefix(6))"
    /// The agents and the CLI share a runtime directory of their own, where the agents leave
    /// their tokens (the CLI finds them there, as an operator's does in theirs).
    var runtime: [String: String] { ["COLONY_RUNTIME_DIR": root + "/run"] }

    /// `colony args` as this suite's user.
    @discardableResult
    func cli(_ args: [String]) -> (status: Int32, out: String) { Binary.run(args, environment: runtime) }

    func start(_ i: Int, join: Bool, extra: [String] = []) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Binary.colony!)
        var args = [
            "agent", "--name", "p-\(i)", "--bind", "127.0.0.1:\(base + 10 + i)", "--http", "127.0.0.1:\(base + i)",
            "--data-dir", "\(root)/p-\(i)", "--profile", "local", "--log-level", "warning",
        ]
        if join { args += ["--join", "127.0.0.1:\(base + 10)"] }
        p.arguments = args + extra
        p.environment = ProcessInfo.processInfo.environment.merging(runtime) { $1 }
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        return p
    }

    func members(via i: Int) -> [String: M] {
        let r = cli(["members", "--json", "--http", "127.0.0.1:\(base + i)"])
        guard r.status == 0, let list = try? JSONDecoder().decode([M].self, from: Data(r.out.utf8)) else { return [:] }
        return Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })
    }

    func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if condition() { return Date().timeIntervalSince(start) }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return condition() ? Date().timeIntervalSince(start) : nil
    }

    @Test func killRestartAndLeaveWithRealProcesses() throws {
        var agents: [Process] = []
        defer {
            for a in agents where a.isRunning { kill(a.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: root)
        }
        for i in 0..<4 { agents.append(try start(i, join: i > 0)) }
        let converged = waitUntil(20) {
            (0..<4).allSatisfy { i in members(via: i).values.filter { $0.status == "alive" }.count == 4 }
        }
        #expect(converged != nil, "four agent processes converge")

        // kill -9: every survivor marks it dead within the local profile's bound.
        let before = try #require(members(via: 0)["p-3"]).incarnation
        kill(agents[3].processIdentifier, SIGKILL)
        agents[3].waitUntilExit()
        let detected = waitUntil(25) { (0..<3).allSatisfy { members(via: $0)["p-3"]?.status == "dead" } }
        #expect(detected != nil, "survivors mark the killed agent dead")

        // Restart with the same data directory and no seeds: it rejoins from the peers it
        // remembered, with a higher incarnation.
        agents[3] = try start(3, join: false)
        let rejoined = waitUntil(20) {
            (0..<3).allSatisfy { i in
                guard let m = members(via: i)["p-3"] else { return false }
                return m.status == "alive" && m.incarnation > before
            }
        }
        #expect(rejoined != nil, "the restarted agent rejoins with a higher incarnation")

        // Graceful leave through the CLI: `left` everywhere.
        #expect(cli(["leave", "--http", "127.0.0.1:\(base + 2)"]).status == 0)
        let left = waitUntil(10) { [0, 1, 3].allSatisfy { members(via: $0)["p-2"]?.status == "left" } }
        #expect(left != nil, "a graceful leave is seen as left")

        // SIGTERM: the agent leaves, then exits 0.
        kill(agents[1].processIdentifier, SIGTERM)
        agents[1].waitUntilExit()
        #expect(agents[1].terminationStatus == 0)
        #expect(waitUntil(10) { members(via: 0)["p-1"]?.status == "left" } != nil)
    }

    /// Issue 18: an agent process requires its token. The CLI finds it with no flags (as `.ci/run`
    /// runs `colony members --http …` against the demo), or reads it from `--token-file` or the
    /// environment; without it the agent refuses. SIGTERM takes the CLI's copy back; a restart
    /// keeps the token.
    @Test func theCLIFindsTheAgentsTokenAndNothingElseGetsIn() throws {
        var agent = try start(0, join: false)
        defer {
            if agent.isRunning { kill(agent.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: root)
        }
        let http = "127.0.0.1:\(base)"
        #expect(waitUntil(15) { cli(["members", "--http", http]).status == 0 } != nil, "found in the runtime dir")
        let tokenFile = "\(root)/p-0/http-token"
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(token.count == 64)

        let elsewhere = ["COLONY_RUNTIME_DIR": root + "/empty"]
        #expect(Binary.run(["members", "--http", http], environment: elsewhere).status != 0, "no token: refused")
        #expect(Binary.run(["members", "--http", http, "--token-file", tokenFile], environment: elsewhere).status == 0)
        let withEnv = elsewhere.merging(["COLONY_HTTP_TOKEN": token]) { $1 }
        #expect(Binary.run(["kv", "put", "k", "v", "--http", http], environment: withEnv).status == 0)
        #expect(cli(["members", "--http", http, "--token", "0123456789abcdef-wrong"]).status != 0, "--token first")
        let url = cli(["dashboard", "--http", http]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url == "http://\(http)/#token=\(token)")

        kill(agent.processIdentifier, SIGTERM)
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: root + "/run")) ?? ["unreadable"]
        #expect(left.isEmpty, "a stopped agent takes its token back: \(left)")

        agent = try start(0, join: false)
        #expect(waitUntil(15) { cli(["kv", "get", "k", "--http", http]).out == "v\n" } != nil)
        let again = try String(contentsOfFile: tokenFile, encoding: .utf8)
        #expect(again.trimmingCharacters(in: .whitespacesAndNewlines) == token, "a restart keeps the token")
    }

    struct K: Decodable {
        var key: String
        var text: String?
    }

    func keys(via i: Int) -> [String: String]? {
        let r = cli(["kv", "list", "--json", "--http", "127.0.0.1:\(base + i)"])
        guard r.status == 0, let list = try? JSONDecoder().decode([K].self, from: Data(r.out.utf8)) else { return nil }
        return Dictionary(uniqueKeysWithValues: list.map { ($0.key, $0.text ?? "") })
    }

    /// Issue #4: writes on every agent, one killed with -9 in the middle and restarted; all
    /// agree in the end and nothing acknowledged is missing — including what the killed
    /// agent acknowledged before it died.
    @Test func writesSurviveKillNineAndEveryAgentAgrees() throws {
        var agents: [Process] = []
        defer {
            for a in agents where a.isRunning { kill(a.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: root)
        }
        for i in 0..<5 { agents.append(try start(i, join: i > 0)) }
        let converged = waitUntil(20) {
            (0..<5).allSatisfy { i in members(via: i).values.filter { $0.status == "alive" }.count == 5 }
        }
        #expect(converged != nil, "five agent processes converge")

        var acknowledged: [String: String] = [:]
        func write(_ n: Int, via i: Int) {
            let key = "w/\(n)"
            let value = "v\(n)@p-\(i)"
            if cli(["kv", "put", key, value, "--http", "127.0.0.1:\(base + i)"]).status == 0 {
                acknowledged[key] = value
            }
        }
        for n in 0..<20 { write(n, via: n % 5) }
        kill(agents[2].processIdentifier, SIGKILL)
        agents[2].waitUntilExit()
        for n in 20..<40 where n % 5 != 2 { write(n, via: n % 5) }
        agents[2] = try start(2, join: false)
        _ = waitUntil(15) { cli(["members", "--http", "127.0.0.1:\(base + 2)"]).status == 0 }
        for n in 40..<50 { write(n, via: n % 5) }
        #expect(acknowledged.count >= 45, "writes on live agents are acknowledged (\(acknowledged.count))")

        let agreed = waitUntil(30) {
            (0..<5).allSatisfy { i in keys(via: i).map { $0 == acknowledged } ?? false }
        }
        if agreed == nil {
            for i in 0..<5 {
                let k = keys(via: i) ?? [:]
                let missing = acknowledged.keys.filter { k[$0] != acknowledged[$0] }.sorted()
                Issue.record("p-\(i) lacks \(missing.count) acknowledged writes: \(missing.prefix(5))")
            }
        }
        #expect(agreed != nil, "every agent holds exactly the acknowledged writes")
    }

    /// Issue #5: five encrypted agent processes rotate their key through the CLI (install →
    /// use → remove, as `serf keys`) while writes keep coming; every write reaches every agent
    /// and every agent ends with only the new key, primary.
    @Test func keyRotationAcrossFiveAgentProcessesLosesNothing() throws {
        struct Summary: Decodable {
            struct Swarm: Decodable {
                var nodes: Int
                var responses: Int
                var errors: [String: String]
                var keys: [String: Int]
                var primaryKeys: [String: Int]
            }
            var swarm: Swarm?
        }
        let k1 = Binary.run(["keygen"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        let k2 = Binary.run(["keygen"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(k1.count == 44 && k2.count == 44 && k1 != k2, "keygen prints fresh base64 AES-256 keys")
        var agents: [Process] = []
        defer {
            for a in agents where a.isRunning { kill(a.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: root)
        }
        for i in 0..<5 { agents.append(try start(i, join: i > 0, extra: ["--encrypt", k1])) }
        let converged = waitUntil(20) {
            (0..<5).allSatisfy { i in members(via: i).values.filter { $0.status == "alive" }.count == 5 }
        }
        #expect(converged != nil, "five encrypted agents converge")

        var acknowledged: [String: String] = [:]
        var n = 0
        func writeSome() {
            for _ in 0..<5 {
                let key = "r/\(n)"
                if cli(["kv", "put", key, "v\(n)", "--http", "127.0.0.1:\(base + n % 5)"]).status == 0 {
                    acknowledged[key] = "v\(n)"
                }
                n += 1
            }
        }
        func keys(_ op: [String]) -> Summary.Swarm? {
            let r = cli(["keys"] + op + ["--http", "127.0.0.1:\(base + 1)"])
            #expect(r.status == 0, "colony keys \(op.first ?? "")")
            return try? JSONDecoder().decode(Summary.self, from: Data(r.out.utf8)).swarm
        }
        writeSome()
        let installed = keys(["install", k2])
        #expect(
            installed?.responses == 5 && installed?.keys[k2] == 5 && installed?.errors.isEmpty == true,
            "\(String(describing: installed))")
        writeSome()
        let used = keys(["use", k2])
        #expect(used?.primaryKeys[k2] == 5, "\(String(describing: used))")
        writeSome()
        let removed = keys(["remove", k1])
        #expect(removed?.keys == [k2: 5], "\(String(describing: removed))")
        writeSome()
        let listed = keys(["list"])
        #expect(listed?.primaryKeys == [k2: 5] && listed?.keys == [k2: 5])
        #expect(acknowledged.count == 20, "every write acknowledged (\(acknowledged.count))")
        let agreed = waitUntil(20) { (0..<5).allSatisfy { i in self.keys(via: i).map { $0 == acknowledged } ?? false } }
        #expect(agreed != nil, "every agent holds every write made before, during and after the rotation")
        #expect(
            (0..<5).allSatisfy { i in members(via: i).values.filter { $0.status == "alive" }.count == 5 },
            "nobody dropped out")
        // Removing the primary is refused, with a clear error and a non-zero exit.
        #expect(cli(["keys", "remove", k2, "--http", "127.0.0.1:\(base)"]).status != 0)
    }
}
