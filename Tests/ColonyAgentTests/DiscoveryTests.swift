import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

enum NetNS {
    static var ip: String? {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    /// Network namespaces need root and iproute2.
    static var available: Bool { getuid() == 0 && ip != nil && Binary.colony != nil }

    @discardableResult
    static func ip(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ip!)
        p.arguments = args
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

/// LAN discovery: agents given no seeds find each other by multicast, in a network
/// namespace of the test's own (loopback with multicast routed), so nothing leaves it.
@Suite(
    .serialized, .enabled(if: NetNS.available, "needs root, iproute2 and the colony executable"),
    .tags(.loopback, .process)) struct DiscoveryTests
{
    @Test func agentsWithoutSeedsFindEachOtherByMulticast() throws {
        let ns = "colony-mc-\(getpid())"
        NetNS.ip(["netns", "del", ns])
        try #require(NetNS.ip(["netns", "add", ns]) == 0)
        defer { NetNS.ip(["netns", "del", ns]) }
        #expect(NetNS.ip(["netns", "exec", ns, "ip", "link", "set", "lo", "up"]) == 0)
        #expect(NetNS.ip(["netns", "exec", ns, "ip", "link", "set", "lo", "multicast", "on"]) == 0)
        #expect(NetNS.ip(["netns", "exec", ns, "ip", "route", "add", "239.0.0.0/8", "dev", "lo"]) == 0)

        // The agents leave their tokens in a runtime directory of the test's own, where its CLI
        // calls find them (not in the user's, where an agent of theirs may have these addresses).
        let runtime = NSTemporaryDirectory() + "colony-mc-run-\(getpid())"
        let environment = ProcessInfo.processInfo.environment.merging(["COLONY_RUNTIME_DIR": runtime]) { $1 }
        var agents: [Process] = []
        defer {
            for a in agents where a.isRunning { kill(a.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: runtime)
        }
        for i in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: NetNS.ip!)
            p.arguments = [
                "netns", "exec", ns, Binary.colony!, "agent", "--name", "m-\(i)", "--bind", "127.0.0.1:\(7960 + i)",
                "--http", "127.0.0.1:\(7950 + i)", "--profile", "local", "--discover", "testswarm", "--log-level",
                "warning",
            ]
            p.environment = environment
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try p.run()
            agents.append(p)
        }
        func alive(via i: Int) -> Int {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: NetNS.ip!)
            p.arguments = [
                "netns", "exec", ns, Binary.colony!, "members", "--status", "alive", "--json", "--http",
                "127.0.0.1:\(7950 + i)",
            ]
            p.environment = environment
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle(forWritingAtPath: "/dev/null")
            guard (try? p.run()) != nil else { return 0 }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return ((try? JSONSerialization.jsonObject(with: data)) as? [Any])?.count ?? 0
        }
        let start = Date()
        var found = false
        while Date().timeIntervalSince(start) < 20 {
            if (0..<3).allSatisfy({ alive(via: $0) == 3 }) {
                found = true
                break
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        #expect(found, "three agents with no seeds must find each other by multicast")
    }
}
