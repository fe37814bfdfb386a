import ColonyCore
import ColonyNIO
import ColonyStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import ColonyAgent

/// The state, event, query and log routes of the HTTP API (issue #4).
@Suite(.serialized, .tags(.http)) struct StateAPITests {
    func withAgent(_ body: @escaping @Sendable (ColonyNode, any TestClientProtocol) async throws -> Void) async throws {
        let config = ColonyNode.Configuration(name: "api", bind: Address(host: "127.0.0.1", port: 0), settings: .local)
        let node = ColonyNode(configuration: config, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await node.start()
        node.setQueryHandler { q in Array("pong:".utf8) + q.payload }
        let app = Application(router: buildRouter(node: node, registry: nil))
        do {
            try await app.test(.router) { try await body(node, $0) }
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    static let contextHeader = HTTPFields.Element.Name("X-Colony-Context")!

    @Test func putGetListDeleteWithContexts() async throws {
        try await withAgent { _, client in
            try await client.execute(uri: "/v1/kv/app/a%20b", method: .put, body: ByteBuffer(string: "one")) { r in
                #expect(r.status == .ok)
            }
            var context = ""
            try await client.execute(uri: "/v1/kv/app/a%20b", method: .get) { r in
                #expect(r.status == .ok)
                let k = try JSONDecoder().decode(KeyJSON.self, from: Data(r.body.readableBytesView))
                #expect(k.key == "app/a b")
                #expect(k.text == "one")
                #expect(k.siblings.count == 1)
                #expect(r.headers[Self.contextHeader] == k.context, "the context is in the header too")
                context = k.context
            }
            // A blind write (empty context) beside it makes a sibling; the read's context
            // resolves both.
            let empty = Data(Wire.encode(context: CausalContext())).base64EncodedString()
            try await client.execute(
                uri: "/v1/kv/app/a%20b", method: .put, headers: [Self.contextHeader: empty],
                body: ByteBuffer(string: "two")
            ) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/v1/kv/app/a%20b", method: .get) { r in
                let k = try JSONDecoder().decode(KeyJSON.self, from: Data(r.body.readableBytesView))
                #expect(
                    Set(k.siblings.compactMap(\.text)) == ["one", "two"],
                    "409-free: concurrent values come back as a list")
                context = k.context
            }
            try await client.execute(
                uri: "/v1/kv/app/a%20b", method: .put, headers: [Self.contextHeader: context],
                body: ByteBuffer(string: "three")
            ) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/v1/kv/app/a%20b", method: .get) { r in
                let k = try JSONDecoder().decode(KeyJSON.self, from: Data(r.body.readableBytesView))
                #expect(k.siblings.map(\.text) == ["three"])
            }
            try await client.execute(uri: "/v1/kv/app/z", method: .put, body: ByteBuffer(string: "zz")) { _ in }
            try await client.execute(uri: "/v1/kv/other", method: .put, body: ByteBuffer(string: "o")) { _ in }
            try await client.execute(uri: "/v1/kv?prefix=app/", method: .get) { r in
                let list = try JSONDecoder().decode([KeyJSON].self, from: Data(r.body.readableBytesView))
                #expect(list.map(\.key) == ["app/a b", "app/z"])
            }
            try await client.execute(uri: "/v1/kv/app/z", method: .delete) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/v1/kv/app/z", method: .get) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/v1/kv?prefix=app/", method: .get) { r in
                let list = try JSONDecoder().decode([KeyJSON].self, from: Data(r.body.readableBytesView))
                #expect(list.map(\.key) == ["app/a b"], "deleted keys are not listed")
            }
        }
    }

    @Test func badInputGetsClearErrors() async throws {
        try await withAgent { _, client in
            let cases: [(String, HTTPRequest.Method, HTTPFields, ByteBuffer, HTTPResponse.Status)] = [
                ("/v1/kv/missing", .get, [:], ByteBuffer(), .notFound),
                ("/v1/kv/x", .put, [Self.contextHeader: "!!not base64"], ByteBuffer(string: "v"), .badRequest),
                ("/v1/kv/x", .put, [Self.contextHeader: "AAAA"], ByteBuffer(string: "v"), .badRequest),
                ("/v1/kv/x", .put, [:], ByteBuffer(repeating: 1, count: 64 * 1024 + 1), .contentTooLarge),
                ("/v1/kv/" + String(repeating: "k", count: 600), .put, [:], ByteBuffer(string: "v"), .badRequest),
                ("/v1/kv?limit=0", .get, [:], ByteBuffer(), .badRequest),
                ("/v1/event/e?coalesce=maybe", .post, [:], ByteBuffer(), .badRequest),
                ("/v1/query/q?timeout=soon", .post, [:], ByteBuffer(), .badRequest),
                ("/v1/query/q?timeout=5m", .post, [:], ByteBuffer(), .badRequest),
                ("/v1/query/q?tag=novalue", .post, [:], ByteBuffer(), .badRequest),
                ("/v1/log?from=-3", .get, [:], ByteBuffer(), .badRequest),
            ]
            for (uri, method, headers, body, status) in cases {
                try await client.execute(uri: uri, method: method, headers: headers, body: body) { r in
                    #expect(r.status == status, "\(method) \(uri)")
                    let text = String(buffer: r.body)
                    #expect(text.hasPrefix("{\"error\""), "\(uri): \(text)")
                }
            }
        }
    }

    /// Issue 18: no HTTP parameter can crash the agent (`?timeout=1e300s` trapped it). Every
    /// parameter the routes read, with hostile values, on every route that reads one: each
    /// request gets an answer, a client error for what cannot be parsed.
    @Test func hostileParametersGetAnswersNotTraps() async throws {
        let values = [
            "1e300s", "1e300", "-1e300ms", "nan", "NaN s", "inf", "-inf", "1e-300s", "0", "-1", "0.0001ms",
            "99999999999999999999999999", "9223372036854775807", "-9223372036854775808", "18446744073709551616",
            "", "%00", "%FF%FE", "é", String(repeating: "9", count: 5_000), "0x10", "1_000", " 5s ", "5 s",
        ]
        // A query that parses waits out its timeout: the others' is short.
        let routes: [(String, HTTPRequest.Method, [String])] = [
            ("/v1/query/q", .post, ["timeout"]),
            ("/v1/query/q?timeout=10ms", .post, ["tag", "node"]),
            ("/v1/keyring", .get, ["scope", "timeout"]),
            ("/v1/kv", .get, ["limit", "prefix"]),
            ("/v1/event/e", .post, ["coalesce"]),
            ("/v1/members", .get, ["status", "tag"]),
            ("/v1/hive/lift", .post, ["id"]),
            ("/v1/hive/depose", .post, ["cell"]),
        ]
        try await withAgent { _, client in
            for (path, method, names) in routes {
                for name in names {
                    for v in values {
                        let uri =
                            "\(path)\(path.contains("?") ? "&" : "?")\(name)=\(v.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                        try await client.execute(uri: uri, method: method, headers: [:], body: ByteBuffer()) { r in
                            #expect(r.status.code < 500, "\(method) \(uri): \(r.status)")
                        }
                    }
                }
            }
        }
    }

    @Test func durationsAreTotal() {
        #expect(StateHTTP.duration("500ms") == .milliseconds(500))
        #expect(StateHTTP.duration("2s") == .seconds(2) && StateHTTP.duration("1m") == .seconds(60))
        #expect(StateHTTP.duration("3") == .seconds(3))
        #expect(StateHTTP.duration("2.5s") == .milliseconds(2_500) && StateHTTP.duration(" 5s ") == .seconds(5))
        for bad in [
            "1e300s", "1e300", "nan", "inf", "-1s", "+1s", "0", "", "s", "ms", "1e9m", "86400001ms", "0x10", "1.2.3s",
            "١s",
        ] {
            #expect(StateHTTP.duration(bad) == nil, "\(bad)")
        }
        #expect(StateHTTP.duration("86400000ms") == .seconds(86_400), "a day is the longest")
    }

    @Test func eventsQueriesAndTheLog() async throws {
        try await withAgent { node, client in
            try await client.execute(
                uri: "/v1/event/deploy?coalesce=true", method: .post, body: ByteBuffer(string: "v2")
            ) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"lamport\":1"))
            }
            try await client.execute(uri: "/v1/query/ping?timeout=300ms", method: .post, body: ByteBuffer(string: "hi"))
            { r in
                #expect(r.status == .ok)
                let lines = String(buffer: r.body).split(separator: "\n")
                #expect(lines.count == 2, "one answer (this node), then the summary")
                #expect(lines.first?.contains("\"text\":\"pong:hi\"") == true)
                #expect(lines.last == "{\"done\":true,\"answers\":1}")
            }
            try await client.execute(uri: "/v1/kv/k", method: .put, body: ByteBuffer(string: "v")) { _ in }
            // The log holds the event and the key, in order (a lone node sees no member change).
            var kinds: [String] = []
            for try await e in node.log(from: 1) {
                kinds.append(e.record.kind.rawValue)
                if e.record.kind == .key { break }
            }
            #expect(kinds == ["event", "key"])
        }
    }
}
