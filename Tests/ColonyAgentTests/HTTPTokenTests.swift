import ColonyCore
import ColonyNIO
import ColonyTrust
import Foundation
import Glibc
import Logging
import Testing

@testable import ColonyAgent

/// One HTTP/1.1 request over a raw socket to 127.0.0.1:`port`: the status and the body.
enum RawHTTP {
    /// The blocking socket calls run on a thread of their own: blocking the few threads of the
    /// concurrency pool would leave none for the agent answering.
    static func request(port: Int, _ path: String, method: String = "GET", token: String? = nil) async throws -> (
        status: Int, body: String
    ) {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try blocking(port: port, path, method: method, token: token) }) }.start()
        }
    }

    static func blocking(port: Int, _ path: String, method: String, token: String?) throws -> (
        status: Int, body: String
    ) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        // Generous: while other suites block the concurrency pool, the agent may answer late.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw NotListening(port: port) }
        let auth = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        let request =
            "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(auth)Content-Length: 0\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer.prefix(n)
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? -1
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }

    struct NotListening: Error { var port: Int }

    /// A port nothing listens on right now (bound, read, released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        try #require(ok)
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// `text` holds `key`, as it is or as JSON escapes it.
func mentions(_ text: String, _ key: String) -> Bool {
    text.contains(key) || text.contains(key.replacingOccurrences(of: "/", with: "\\/"))
}

/// The mode bits of a file (`st_mode & 0o777`).
func mode(_ path: String) -> UInt32? {
    var st = stat()
    return lstat(path, &st) == 0 ? UInt32(st.st_mode & 0o777) : nil
}

/// Issue 18: the HTTP API requires a token by default; an agent makes it, keeps it and leaves
/// it where the CLI finds it.
@Suite(.serialized, .tags(.http)) struct HTTPTokenTests {
    let root = NSTemporaryDirectory() + "colony-token-\(getpid())-\(UUID().uuidString.prefix(6))"

    /// An agent run in this process until `body` returns; its runtime directory is `root/run`.
    func withAgent(
        dataDir: String? = nil, httpToken: String? = nil, encrypt: String? = nil,
        _ body: (_ port: Int, _ index: RuntimeIndex) async throws -> Void
    ) async throws {
        var c = AgentConfiguration(name: "tok")
        c.bind = "127.0.0.1:\(try RawHTTP.freePort())"
        c.http = "127.0.0.1:\(try RawHTTP.freePort())"
        c.profile = "local"
        c.dataDir = dataDir
        c.httpToken = httpToken
        c.encrypt = encrypt
        try c.validate()
        let configuration = c
        let index = RuntimeIndex(directory: root + "/run")
        let port = try Address(parsing: c.http).port
        let agent = Task {
            try await Agent.run(
                configuration, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, registry: nil,
                environment: ["COLONY_RUNTIME_DIR": index.directory])
        }
        var up = false
        // Generous: the agent runs on the concurrency pool, which CPU-bound suites running
        // meanwhile (the simulator's) can hold for long stretches on a 2-core machine.
        let deadline = ContinuousClock.now + .seconds(300)
        while !up && ContinuousClock.now < deadline {
            up = (try? await RawHTTP.request(port: Int(port), "/v1/health"))?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(25)) }
        }
        do {
            try #require(up, "the agent's API answers")
            try await body(Int(port), index)
        } catch {
            agent.cancel()
            _ = await agent.result
            throw error
        }
        agent.cancel()
        _ = await agent.result
    }

    @Test func anAgentMakesItsTokenOnceKeepsItPrivateAndRequiresIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let key = Keyring.generateKey()
        let dataDir = root + "/data"
        let tokenFile = dataDir + "/http-token"
        var first = ""
        try await withAgent(dataDir: dataDir, encrypt: key) { port, index throws in
            first = try HTTPToken.read(path: tokenFile)
            #expect(first.count == 64 && first.allSatisfy(\.isHexDigit), "32 random bytes, hex: \(first)")
            #expect(mode(tokenFile) == 0o600)
            #expect(mode(dataDir) == 0o700)

            // Without the token: a 401 with a JSON error, on reads, on the keyring and on actions.
            let refused = [
                ("GET", "/v1/self"), ("GET", "/v1/keyring"), ("GET", "/v1/keyring?scope=local"),
                ("GET", "/v1/keyring?scope=swarm"), ("POST", "/v1/leave"),
            ]
            for (method, path) in refused {
                let r = try await RawHTTP.request(port: port, path, method: method)
                #expect(r.status == 401, "\(method) \(path)")
                let error = try JSONDecoder().decode(ErrorJSON.self, from: Data(r.body.utf8))
                #expect(error.error.message.contains("bearer token"))
                #expect(!mentions(r.body, key), "no key without the token")
            }
            #expect(try await RawHTTP.request(port: port, "/v1/self", token: "0123456789abcdef-wrong").status == 401)
            // With it: 200, and the keyring holds the key.
            #expect(try await RawHTTP.request(port: port, "/v1/self", token: first).status == 200)
            let keys = try await RawHTTP.request(port: port, "/v1/keyring?scope=local", token: first)
            #expect(keys.status == 200 && mentions(keys.body, key))
            // Scrapers and probes need none; the dashboard page holds no data.
            for path in ["/metrics", "/v1/health", "/"] {
                #expect(try await RawHTTP.request(port: port, path).status == 200, "\(path)")
            }

            // The CLI's copy: 0600 in a 0700 directory, named after the address, this process's.
            let entryFile = index.path(host: "127.0.0.1", port: port)
            #expect(entryFile.hasSuffix("/127.0.0.1_\(port).json"))
            #expect(mode(entryFile) == 0o600)
            #expect(mode(index.directory) == 0o700)
            let entry = try #require(index.read(entryFile))
            #expect(entry == RuntimeIndex.Entry(http: "127.0.0.1:\(port)", token: first, pid: getpid()))
            let found = try TokenResolver.resolve(
                token: nil, tokenFile: nil, environment: [:], address: Address(host: "127.0.0.1", port: UInt16(port)),
                index: index)
            #expect(found.token == first)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: root + "/run")
        #expect(left.isEmpty, "a stopped agent takes its token back: \(left)")

        // A restart reuses the token.
        try await withAgent(dataDir: dataDir) { port, _ throws in
            #expect(try HTTPToken.read(path: tokenFile) == first)
            #expect(try await RawHTTP.request(port: port, "/v1/self", token: first).status == 200)
            #expect(try await RawHTTP.request(port: port, "/v1/self").status == 401)
        }
    }

    @Test func withoutADataDirectoryTheTokenIsFreshAndLeftForTheCLI() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await withAgent { port, index throws in
            let address = Address(host: "127.0.0.1", port: UInt16(port))
            let token = try #require(index.token(for: address))
            #expect(token.count == 64)
            #expect(try await RawHTTP.request(port: port, "/v1/members").status == 401)
            #expect(try await RawHTTP.request(port: port, "/v1/members", token: token).status == 200)
        }
    }

    @Test func aConfiguredTokenWins() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let token = "configured-token-0123456789"
        try await withAgent(dataDir: root + "/data", httpToken: token) { port, index throws in
            #expect(try await RawHTTP.request(port: port, "/v1/self").status == 401)
            #expect(try await RawHTTP.request(port: port, "/v1/self", token: token).status == 200)
            #expect(index.token(for: Address(host: "127.0.0.1", port: UInt16(port))) == token)
            #expect(!FileManager.default.fileExists(atPath: root + "/data/http-token"), "none made")
        }
    }

    /// `http_token = "none"`: the old open API, on loopback only.
    @Test func noneTurnsTheTokenOffOnLoopbackOnly() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await withAgent(dataDir: root + "/data", httpToken: "none") { port, index throws in
            #expect(try await RawHTTP.request(port: port, "/v1/self").status == 200)
            #expect(!FileManager.default.fileExists(atPath: root + "/data/http-token"))
            #expect(index.token(for: Address(host: "127.0.0.1", port: UInt16(port))) == nil)
        }
        for http in ["0.0.0.0:7950", "10.1.2.3:7950", "[::]:7950", "agent.example:7950"] {
            var c = AgentConfiguration(name: "tok")
            c.http = http
            c.httpToken = "none"
            #expect(throws: ConfigurationError.self, "\(http)") { try c.validate() }
            c.httpToken = nil
            #expect(throws: Never.self, "\(http): the agent makes a token") { try c.validate() }
        }
        let file = try AgentConfiguration.overrides(fromTOML: "http_token = \"none\"\nhttp = \"0.0.0.0:7950\"")
        let m = #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: file, flags: .init()) }
        #expect(m?.description.contains("loopback") == true, "\(m?.description ?? "")")
    }

    // MARK: The token file

    @Test func aTokenFileIsMadeOnceAndReadBack() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try HTTPToken.loadOrCreate(directory: root + "/a/nested")
        #expect(try HTTPToken.loadOrCreate(directory: root + "/a/nested") == a)
        #expect(try HTTPToken.loadOrCreate(directory: root + "/b") != a, "each agent its own")
        #expect(mode(root + "/a/nested/http-token") == 0o600)
        // A token file others could read is narrowed; whatever surrounds the token is ignored.
        _ = chmod(root + "/b/http-token", 0o644)
        _ = try HTTPToken.loadOrCreate(directory: root + "/b")
        #expect(mode(root + "/b/http-token") == 0o600)
        try "  \(a)\n\n".write(toFile: root + "/c", atomically: true, encoding: .utf8)
        #expect(try HTTPToken.read(path: root + "/c") == a)
        // A file that holds no token is an error, not an open API.
        for bad in ["", "short\n", "has a space in it, 0123456789"] {
            try bad.write(toFile: root + "/d", atomically: true, encoding: .utf8)
            #expect(throws: HTTPTokenError.self, "\(bad)") { try HTTPToken.read(path: root + "/d") }
        }
        #expect(throws: HTTPTokenError.self) { try HTTPToken.read(path: root + "/missing") }
    }
}
