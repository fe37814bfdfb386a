import ColonyCore
import Foundation
import Glibc
import Testing

@testable import ColonyAgent

/// Issue 18: which token the CLI sends, and where it finds the one an agent left.
@Suite(.tags(.http)) struct TokenResolverTests {
    let root = NSTemporaryDirectory() + "colony-resolve-\(getpid())-\(UUID().uuidString.prefix(6))"
    let agent = Address(host: "127.0.0.1", port: 7950)

    func file(_ name: String, _ token: String) throws -> String {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let path = root + "/" + name
        try (token + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func resolve(
        token: String? = nil, tokenFile: String? = nil, _ environment: [String: String] = [:],
        address: Address? = nil, index: RuntimeIndex? = nil
    ) throws -> TokenResolver.Resolution {
        try TokenResolver.resolve(
            token: token, tokenFile: tokenFile, environment: environment, address: address ?? agent, index: index)
    }

    @Test func flagsThenEnvironmentThenTheRuntimeDirectory() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = RuntimeIndex(directory: root + "/run")
        try index.publish(token: "from-the-runtime-dir-0", host: "127.0.0.1", port: 7950)
        let flagFile = try file("flag", "from-token-file-flag-0")
        let envFile = try file("env", "from-the-env-file-0000")
        let env = ["COLONY_HTTP_TOKEN": "from-the-env-token-000", "COLONY_HTTP_TOKEN_FILE": envFile]

        let all = try resolve(token: "from-token-flag-000000", env, index: index)
        #expect(all == .init(token: "from-token-flag-000000", source: "--token"))
        #expect(try resolve(tokenFile: flagFile, env, index: index).token == "from-token-file-flag-0")
        #expect(try resolve(env, index: index).token == "from-the-env-token-000")
        #expect(try resolve(["COLONY_HTTP_TOKEN_FILE": envFile], index: index).token == "from-the-env-file-0000")
        #expect(try resolve(["COLONY_HTTP_TOKEN": ""], index: index).token == "from-the-runtime-dir-0", "empty: unset")
        #expect(try resolve(index: index) == .init(token: "from-the-runtime-dir-0", source: "runtime directory"))
        // Nothing found is not an error (the agent may run with http_token = "none").
        #expect(try resolve(address: Address(host: "127.0.0.1", port: 7951), index: index).token == nil)
        #expect(try resolve().token == nil)
    }

    @Test func aNamedTokenFileMustHoldAToken() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let good = try file("good", "a-good-token-000000000")
        #expect(throws: HTTPTokenError.self) { try resolve(token: "a-good-token-000000000", tokenFile: good) }
        #expect(throws: HTTPTokenError.self) { try resolve(tokenFile: root + "/missing") }
        #expect(throws: HTTPTokenError.self) { try resolve(["COLONY_HTTP_TOKEN_FILE": try file("empty", "")]) }
    }

    @Test func theRuntimeDirectoryComesFromTheEnvironment() {
        let all = ["COLONY_RUNTIME_DIR": "/c", "XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/me"]
        #expect(RuntimeIndex.forUser(environment: all)?.directory == "/c")
        var env = all
        env["COLONY_RUNTIME_DIR"] = nil
        #expect(RuntimeIndex.forUser(environment: env)?.directory == "/run/user/1000/colony")
        env["XDG_RUNTIME_DIR"] = "relative/is/ignored"
        #expect(RuntimeIndex.forUser(environment: env)?.directory == "/home/me/.colony/run")
    }

    /// A loopback address finds an agent published under another loopback name or a wildcard;
    /// another address only its own entry; an entry whose process is gone, nothing.
    @Test func entriesAreFoundByAddressAndIgnoredOnceTheirAgentIsGone() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = RuntimeIndex(directory: root + "/run")
        try index.publish(token: "wildcard-agent-token-0", host: "0.0.0.0", port: 8000)
        try index.publish(token: "localhost-agent-token0", host: "localhost", port: 8001)
        try index.publish(token: "lan-agent-token-000000", host: "10.0.0.5", port: 8002)
        try index.publish(token: "ipv6-agent-token-00000", host: "::1", port: 8003)
        try index.publish(token: "dead-agent-token-00000", host: "127.0.0.1", port: 8004, pid: Int32.max)
        #expect(index.token(for: Address(host: "127.0.0.1", port: 8000)) == "wildcard-agent-token-0")
        #expect(index.token(for: Address(host: "127.0.0.1", port: 8001)) == "localhost-agent-token0")
        #expect(index.token(for: Address(host: "LOCALHOST", port: 8001)) == "localhost-agent-token0")
        #expect(index.token(for: Address(host: "10.0.0.5", port: 8002)) == "lan-agent-token-000000")
        #expect(index.token(for: Address(host: "::1", port: 8003)) == "ipv6-agent-token-00000")
        #expect(index.token(for: Address(host: "10.0.0.9", port: 8000)) == nil, "a wildcard token stays local")
        #expect(index.token(for: Address(host: "127.0.0.1", port: 8004)) == nil, "its agent is gone")
        #expect(index.token(for: Address(host: "127.0.0.1", port: 8005)) == nil)
    }

    @Test func theDirectoryIsPrivateAndOnlyTheOwnerWithdraws() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let index = RuntimeIndex(directory: root + "/run")
        try FileManager.default.createDirectory(
            atPath: index.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try index.publish(token: "a-token-for-the-index0", host: "127.0.0.1", port: 9000)
        #expect(mode(index.directory) == 0o700, "narrowed")
        #expect(mode(index.path(host: "127.0.0.1", port: 9000)) == 0o600)
        index.withdraw(host: "127.0.0.1", port: 9000, pid: getpid() + 1)
        #expect(index.token(for: Address(host: "127.0.0.1", port: 9000)) != nil, "another agent's entry stays")
        index.withdraw(host: "127.0.0.1", port: 9000)
        #expect(index.token(for: Address(host: "127.0.0.1", port: 9000)) == nil)
        #expect(!FileManager.default.fileExists(atPath: index.path(host: "127.0.0.1", port: 9000)))
    }
}
