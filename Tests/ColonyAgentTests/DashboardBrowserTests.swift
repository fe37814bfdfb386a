import ColonyAgent
import ColonyCore
import ColonyNIO
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import Testing

/// The dashboard as a person sees it: headless Chromium loads it and the members must
/// appear, then change as one fails and one leaves. Runs where Chromium is installed
/// (`.ci/run` installs Debian's `chromium`).
enum Browser {
    static var chromium: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }
}

@Suite(.serialized, .enabled(if: Browser.chromium != nil, "Chromium is not installed"), .tags(.http, .browser))
struct DashboardBrowserTests {
    /// The rendered DOM, after the page's scripts ran. Chromium is waited for on a thread of
    /// its own: blocking the concurrency pool's few threads would starve the agents.
    func dom(_ url: String) async throws -> String {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try Self.blockingDOM(url) }) }.start()
        }
    }

    static func blockingDOM(_ url: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Browser.chromium!)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000", "--dump-dom", url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func statuses(in html: String) -> [String: String] {
        var out: [String: String] = [:]
        let pattern = #"<tr class="row" data-name="([^"]+)"><td>[^<]*</td><td class="(alive|suspect|dead|left)">"#
        let regex = try! NSRegularExpression(pattern: pattern)
        for m in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let name = String(html[Range(m.range(at: 1), in: html)!])
            out[name] = String(html[Range(m.range(at: 2), in: html)!])
        }
        return out
    }

    /// The API's token (issue 18); the dashboard's address carries it in its fragment, as
    /// `colony demo` prints it.
    let token = HTTPToken.generate()

    /// `count` agents named `prefix-i` joined into one swarm, the first serving the
    /// dashboard behind `token` (cancel `server` when done); `url` opens it with the token.
    func swarmWithDashboard(_ prefix: String, count: Int, settings: Settings) async throws -> (
        nodes: [ColonyNode], url: String, server: Task<Void, any Error>
    ) {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        var nodes: [ColonyNode] = []
        var seed: Address?
        for i in 0..<count {
            let n = ColonyNode(
                configuration: .init(
                    name: "\(prefix)-\(i)", bind: Address(host: "127.0.0.1", port: 0), settings: settings),
                logger: logger)
            let a = try await n.start()
            if let seed { try await n.join(seeds: ["\(seed)"]) } else { seed = a }
            nodes.append(n)
        }
        let port = NIOLockedValueBox<Int?>(nil)
        let app = Application(
            router: buildRouter(node: nodes[0], registry: nil, token: token),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLockedValue { $0 = channel.localAddress?.port } },
            logger: logger
        )
        let server = Task { try await app.runService() }
        for _ in 0..<100 where port.withLockedValue({ $0 }) == nil { try await Task.sleep(for: .milliseconds(50)) }
        let bound = port.withLockedValue { $0 }
        if bound == nil { server.cancel() }
        return (nodes, "http://127.0.0.1:\(try #require(bound))/#token=\(token)", server)
    }

    @Test func membersAppearAndChangeAsTheyFailAndLeave() async throws {
        let (nodes, url, server) = try await swarmWithDashboard("web", count: 4, settings: .local)
        defer { server.cancel() }
        for _ in 0..<100 where await nodes[0].members(status: .alive).count < 4 {
            try await Task.sleep(for: .milliseconds(50))
        }

        try await nodes[1].put("config/colour", value: Array("teal".utf8))
        for _ in 0..<100 where (try? await nodes[0].get("config/colour").value) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        let locked = try await dom(String(url.prefix { $0 != "#" }))
        #expect(statuses(in: locked).isEmpty, "without the token the page shows no member")
        #expect(locked.contains("wants its token"), "and says what it needs")
        let page = try await dom(url)
        let first = statuses(in: page)
        #expect(first == ["web-0": "alive", "web-1": "alive", "web-2": "alive", "web-3": "alive"], "\(first)")
        #expect(
            page.contains("data-key=\"config/colour\"") && page.contains("teal"),
            "the keys table shows a key written elsewhere")

        await nodes[3].stop() // fails
        try await nodes[2].leave() // leaves
        await nodes[2].stop()
        for _ in 0..<300 where await nodes[0].members(status: .dead).count < 1 {
            try await Task.sleep(for: .milliseconds(100))
        }
        let second = statuses(in: try await dom(url))
        #expect(second["web-2"] == "left", "\(second)")
        #expect(second["web-3"] == "dead", "\(second)")
        #expect(second["web-0"] == "alive" && second["web-1"] == "alive")

        server.cancel()
        for n in nodes.prefix(2) { await n.stop() }
    }

    /// With the hive on, the page lists the cells, rings the queens and draws the routing tree.
    @Test func theHiveIsDrawnWithItsQueensAndTree() async throws {
        var settings = Settings.local
        settings.hive.enabled = true
        settings.hive.minimumUptime = .milliseconds(500)
        settings.hive.foundSpacing = .milliseconds(200)
        let (nodes, url, server) = try await swarmWithDashboard("bee", count: 8, settings: settings)
        defer { server.cancel() }
        // Until node 0 routes through a queen and knows every cell's claim.
        var queens = 0
        for _ in 0..<200 {
            var ids: Set<NodeID> = []
            for n in nodes where await n.hive().state.role == .queen {
                if let me = await n.hive().me { ids.insert(me) }
            }
            let view = await nodes[0].hive()
            queens = ids.count
            if view.routing && !ids.isEmpty
                && ids.isSubset(of: Set(view.state.cells.values.filter { !$0.dissolved }.map(\.queen)))
            {
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(queens >= 1)
        let page = try await dom(url)
        let rows = page.components(separatedBy: "<tr class=\"cell\"").count - 1
        #expect(rows >= queens, "a row per cell: \(rows) rows, \(queens) queens")
        #expect(page.contains("member alive queen"), "queens are ringed")
        #expect(page.contains("class=\"tree"), "the routing tree is drawn")
        #expect(page.contains("of cell "), "this agent's place in the hive")
        server.cancel()
        for n in nodes { await n.stop() }
    }
}
