import ArgumentParser
import ColonyAgent
import ColonyCore
import ColonyTrust
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `colony demo`: N real agents as child processes on loopback, data under a temp folder.
/// Prints every address and the dashboard URL; Ctrl-C stops them all cleanly.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Start a small swarm of real agents on loopback and print the dashboard address."
    )

    @Flag(help: "Run the swarm unencrypted (by default it is sealed with a fresh key).") var plain = false
    @Option(help: "Number of agents.") var nodes: Int = 5
    @Option(name: .customLong("base-port"), help: "Agent i serves HTTP on base+i and gossips on base+N+i.")
    var basePort: Int = 7950
    @Option(help: "Settings profile for the agents.") var profile: String = "local"
    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).") var seconds: Double?

    func run() async throws {
        guard (1...50).contains(nodes) else { throw ValidationError("--nodes must be between 1 and 50") }
        guard basePort > 1024, basePort + 2 * nodes < 65535 else {
            throw ValidationError("--base-port leaves no room for \(nodes) agents")
        }
        let exe = Self.executablePath()
        let root = NSTemporaryDirectory() + "colony-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var children: [Process] = []
        // The swarm is sealed with a fresh key (and every node signs what it originates).
        let key = plain ? nil : Keyring.generateKey()
        say(
            "Colony demo: \(nodes) agents, data under \(root)"
                + (key == nil ? ", unencrypted" : ", sealed with a fresh AES-256 key"))
        // Each agent's API token, made here in its data directory (as the agent would at its first
        // start) so the dashboard address can carry it; the CLI finds them in the runtime directory.
        let tokens = try (0..<nodes).map { try HTTPToken.loadOrCreate(directory: "\(root)/node-\($0)") }
        for i in 0..<nodes {
            children.append(try launch(i, exe: exe, root: root, key: key))
            say(
                "  node-\(i)  gossip 127.0.0.1:\(basePort + nodes + i)  api http://127.0.0.1:\(basePort + i)/"
                    + "  log \(root)/node-\(i).log"
            )
        }
        say("")
        say("Dashboard: \(dashboardURL(Address(host: "127.0.0.1", port: UInt16(basePort)), token: tokens[0]))")
        say("Try: colony members --http 127.0.0.1:\(basePort)   (the CLI finds the agent's token by itself)")
        say("Ctrl-C stops every agent (each leaves the swarm first).")
        let running = children

        let stop = AsyncStream<String> { continuation in
            for sig in [SIGINT, SIGTERM] {
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
                source.setEventHandler { continuation.yield(sig == SIGINT ? "interrupt" : "terminate") }
                source.resume()
                Self.sources.append(source)
            }
            if let seconds {
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { continuation.yield("time is up") }
            }
            DispatchQueue.global().async {
                while true {
                    if let dead = running.firstIndex(where: { !$0.isRunning }) {
                        continuation.yield("node-\(dead) exited with status \(running[dead].terminationStatus)")
                        return
                    }
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }
        }
        var reason = "stopped"
        for await r in stop {
            reason = r
            break
        }
        say("\n\(reason): stopping \(children.count) agents…")
        for c in children where c.isRunning { kill(c.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while children.contains(where: \.isRunning) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        for c in children where c.isRunning { kill(c.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: root)
        say("all agents stopped")
    }

    /// Agent `i` as a child process, its output in `root/node-i.log`; all but the first join the first.
    func launch(_ i: Int, exe: String, root: String, key: String?) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        var args = [
            "agent", "--name", "node-\(i)", "--bind", "127.0.0.1:\(basePort + nodes + i)",
            "--http", "127.0.0.1:\(basePort + i)", "--data-dir", "\(root)/node-\(i)", "--profile", profile,
        ]
        if i > 0 { args += ["--join", "127.0.0.1:\(basePort + nodes)"] }
        if let key { args += ["--encrypt", key] }
        p.arguments = args
        let log = FileHandle(forWritingAtPath: Self.touch("\(root)/node-\(i).log"))
        p.standardOutput = log
        p.standardError = log
        try p.run()
        return p
    }

    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []

    static func touch(_ path: String) -> String {
        FileManager.default.createFile(atPath: path, contents: nil)
        return path
    }

    static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        return CommandLine.arguments[0]
    }
}

/// Unbuffered, so the addresses show at once even when stdout is a pipe.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
