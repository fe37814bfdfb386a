import ColonyCore
import ColonyNIO
import Foundation
import Glibc
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import Testing

@testable import ColonyAgent

/// Issue 18: a web page cannot drive a local agent. A page that rebinds its own name to
/// 127.0.0.1 sends its own name as Host (refused); a page on another origin sends its Origin
/// (refused); the CLI and curl send neither an odd Host nor an Origin (answered).
@Suite(.serialized, .tags(.http)) struct OriginGuardTests {
    /// One raw HTTP/1.1 request to 127.0.0.1:`port`; the status code of the answer. The
    /// blocking socket calls run on a thread of their own: blocking the concurrency pool's few
    /// threads would starve agents other suites run meanwhile.
    func status(port: Int, _ request: String) async throws -> Int {
        try await withCheckedThrowingContinuation { c in
            Thread { c.resume(with: Result { try Self.blockingStatus(port: port, request) }) }.start()
        }
    }

    struct NotListening: Error {}

    static func blockingStatus(port: Int, _ request: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw NotListening() }
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = recv(fd, &buffer, buffer.count, 0)
        let head = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
        return Int(head.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    @Test func rebindingAndCrossOriginRequestsAreRefused() async throws {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let node = ColonyNode(
            configuration: .init(name: "guarded", bind: Address(host: "127.0.0.1", port: 0), settings: .local),
            logger: logger)
        try await node.start()
        let port = NIOLockedValueBox<Int?>(nil)
        let app = Application(
            router: buildRouter(node: node, registry: nil, loopback: true),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLockedValue { $0 = channel.localAddress?.port } },
            logger: logger)
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        for _ in 0..<100 where port.withLockedValue({ $0 }) == nil { try await Task.sleep(for: .milliseconds(20)) }
        let p = try #require(port.withLockedValue { $0 })
        func get(_ headers: String, _ method: String = "GET", _ path: String = "/v1/self") async throws -> Int {
            try await status(
                port: p, "\(method) \(path) HTTP/1.1\r\n\(headers)Content-Length: 0\r\nConnection: close\r\n\r\n")
        }
        #expect(try await get("Host: 127.0.0.1:\(p)\r\n") == 200, "the CLI")
        #expect(try await get("Host: localhost:\(p)\r\n") == 200)
        #expect(try await get("Host: rebound.example:\(p)\r\n") == 403, "DNS rebinding")
        #expect(try await get("Host: 127.0.0.1:\(p)\r\nOrigin: http://127.0.0.1:\(p)\r\n") == 200, "the dashboard")
        #expect(try await get("Host: 127.0.0.1:\(p)\r\nOrigin: http://evil.example\r\n", "POST", "/v1/leave") == 403)
        #expect(try await get("Host: 127.0.0.1:\(p)\r\nOrigin: null\r\n", "POST", "/v1/leave") == 403)
        #expect(try await get("Host: 127.0.0.1:\(p)\r\nOrigin: http://127.0.0.1:1\r\n") == 403, "another port")
        #expect(await node.me()?.status == .alive, "the node did not leave")
        await node.stop()
    }

    @Test func authoritiesAndOriginsParse() {
        for a in ["127.0.0.1:7950", "localhost:7950", "[::1]:7950", "127.1.2.3", "LOCALHOST:1"] {
            #expect(OriginGuardMiddleware<BasicRequestContext>.isLoopbackAuthority(a), "\(a)")
        }
        for a in ["example.com:7950", "10.0.0.1:7950", "[::2]:1", "127.0.0.1.evil.com:80", "["] {
            #expect(!OriginGuardMiddleware<BasicRequestContext>.isLoopbackAuthority(a), "\(a)")
        }
        #expect(
            OriginGuardMiddleware<BasicRequestContext>.authority(ofOrigin: "http://127.0.0.1:7950") == "127.0.0.1:7950")
        #expect(OriginGuardMiddleware<BasicRequestContext>.authority(ofOrigin: "null") == nil)
        #expect(OriginGuardMiddleware<BasicRequestContext>.authority(ofOrigin: "http://a/b") == nil)
    }
}
