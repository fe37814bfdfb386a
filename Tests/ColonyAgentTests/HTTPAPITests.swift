import ColonyAgent
import ColonyCore
import ColonyNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite(.serialized, .tags(.http)) struct HTTPAPITests {
    func withAgent(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var config = ColonyNode.Configuration(name: "api", bind: Address(host: "127.0.0.1", port: 0), settings: .local)
        config.tags = ["role": "web"]
        let node = ColonyNode(configuration: config, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await node.start()
        let app = Application(router: buildRouter(node: node, registry: nil))
        do {
            try await app.test(.router, body)
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test func selfAndMembersHaveTheContractFields() async throws {
        try await withAgent { client in
            try await client.execute(uri: "/v1/self", method: .get) { r in
                #expect(r.status == .ok)
                let me = try JSONDecoder().decode(MemberJSON.self, from: Data(r.body.readableBytesView))
                #expect(me.name == "api")
                #expect(me.status == "alive")
                #expect(me.tags == ["role": "web"])
            }
            try await client.execute(uri: "/v1/members?status=alive&tag=role=web", method: .get) { r in
                #expect(r.status == .ok)
                let object = try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [[String: Any]]
                let first = try #require(object?.first)
                for field in ["name", "id", "address", "status", "incarnation", "tags"] {
                    #expect(first[field] != nil, "missing \(field)")
                }
            }
            try await client.execute(uri: "/v1/members?tag=role=db", method: .get) { r in
                #expect(String(buffer: r.body) == "[]")
            }
            try await client.execute(uri: "/v1/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("\"alive\":1"))
            }
        }
    }

    @Test(arguments: [
        ("/v1/members?status=bogus", HTTPRequest.Method.get, "", HTTPResponse.Status.badRequest),
        ("/v1/members?tag=novalue", .get, "", .badRequest),
        ("/v1/nothing-here", .get, "", .notFound),
        ("/v1/join", .post, "{not json", .badRequest),
        ("/v1/join", .post, "{\"seeds\": []}", .badRequest),
        ("/v1/join", .post, "{\"seeds\": [\"host:70000\"]}", .badRequest),
        ("/v1/join", .post, "{\"peers\": [\"a\"]}", .badRequest),
        ("/v1/hive/depose?cell=zz", .post, "", .badRequest),
        // The hive is off on this agent.
        ("/v1/hive/depose", .post, "", .conflict),
        ("/v1/hive/lift", .post, "", .badRequest),
        ("/v1/hive/lift?id=nothex", .post, "", .badRequest),
        ("/v1/hive/lift?id=0123456789abcdef0123456789abcdef", .post, "", .notFound),
        // Force-leave: unknown member, this node itself, bad prune, timeout and order.
        ("/v1/agent/force-leave/nobody", .put, "", .notFound),
        ("/v1/agent/force-leave/nobody?prune", .post, "", .notFound),
        ("/v1/agent/force-leave/api", .put, "", .conflict),
        ("/v1/agent/force-leave/api?prune=maybe", .put, "", .badRequest),
        ("/v1/agent/force-leave/api?timeout=forever", .put, "", .badRequest),
        ("/v1/agent/force-leave/api?order=short", .put, "", .badRequest),
        ("/v1/agent/force-leave/api?order=\(String(repeating: "A", count: 128))", .put, "", .badRequest),
        ("/v1/agent/force-leave/api", .get, "", .notFound),
    ])
    func malformedRequestsGetJSONErrors(
        uri: String, method: HTTPRequest.Method, body: String, status: HTTPResponse.Status
    ) async throws {
        try await withAgent { client in
            try await client.execute(
                uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
            ) { r in
                #expect(r.status == status)
                #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
                let object =
                    try JSONSerialization.jsonObject(with: Data(r.body.readableBytesView))
                    as? [String: [String: String]]
                #expect(object?["error"]?["message"]?.isEmpty == false)
            }
        }
    }

    @Test func noEvictionsAreListedOnAFreshAgent() async throws {
        try await withAgent { client in
            try await client.execute(uri: "/v1/hive/evictions", method: .get) { r in
                #expect(r.status == .ok)
                let list = try JSONDecoder().decode([EvictionJSON].self, from: Data(r.body.readableBytesView))
                #expect(list.isEmpty)
            }
        }
    }

    @Test func dashboardAndMetricsAreServed() async throws {
        try await withAgent { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                let html = String(buffer: r.body)
                #expect(html.contains("<svg id=\"ring\""))
                #expect(html.contains("/v1/events"))
                #expect(!html.contains("http://") && !html.contains("https://"), "no CDN or external resources")
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
        }
    }
}
