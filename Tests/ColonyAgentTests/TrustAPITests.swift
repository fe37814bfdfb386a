import ColonyAgent
import ColonyCore
import ColonyNIO
import ColonyTrust
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// `{"scope": …, "local": …, "swarm": …}` as the keyring routes answer.
private struct KeyringReply: Decodable {
    var scope: String
    var local: KeyringState?
    var swarm: KeyringSummary?
}

private struct ErrorReply: Decodable {
    struct Detail: Decodable { var message: String }
    var error: Detail
}

private func decode<T: Decodable>(_ type: T.Type, _ response: TestResponse) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
}

/// The error message of a JSON error response (and a failed expectation if it is not one).
private func message(_ response: TestResponse) -> String {
    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
    do {
        return try decode(ErrorReply.self, response).error.message
    } catch {
        Issue.record("not a JSON error body: \(String(buffer: response.body))")
        return ""
    }
}

private func keyBody(_ key: String) -> ByteBuffer { ByteBuffer(string: "{\"key\": \"\(key)\"}") }

private let json: HTTPFields = [.contentType: "application/json"]

/// The HTTP bearer token and the keyring routes, driven in-process.
@Suite(.serialized, .tags(.http)) struct TrustAPITests {
    static let token = "0123456789abcdef-token"

    func withAgent(
        keyring: Keyring?, token: String? = nil,
        _ body: @escaping @Sendable (any TestClientProtocol, ColonyNode) async throws -> Void
    ) async throws {
        var config = ColonyNode.Configuration(
            name: "trust", bind: Address(host: "127.0.0.1", port: 0), settings: .local)
        config.keyring = keyring
        let node = ColonyNode(configuration: config, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await node.start()
        let app = Application(router: buildRouter(node: node, registry: nil, token: token))
        do {
            try await app.test(.router) { client in try await body(client, node) }
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    // MARK: Bearer token

    @Test func requestsWithoutTheTokenGet401WithAJSONError() async throws {
        try await withAgent(keyring: nil, token: Self.token) { client, _ in
            try await client.execute(uri: "/v1/self", method: .get) { r in
                #expect(r.status == .unauthorized)
                #expect(message(r).contains("bearer token"))
                #expect(r.headers[HTTPFields.Element.Name("WWW-Authenticate")!]?.hasPrefix("Bearer") == true)
            }
            for header in [
                "Bearer wrong-token-0123456789", "Bearer ", "Bearer 0123456789abcdef-toke",
                "Bearer 0123456789abcdef-tokenX",
                "Basic 0123456789abcdef-token", "0123456789abcdef-token",
            ] {
                try await client.execute(uri: "/v1/self", method: .get, headers: [.authorization: header]) { r in
                    #expect(r.status == .unauthorized, "Authorization: \(header)")
                    #expect(!message(r).isEmpty)
                    #expect(r.headers[HTTPFields.Element.Name("WWW-Authenticate")!] != nil)
                }
            }
            // Protected routes that change things are refused too, and change nothing.
            try await client.execute(
                uri: "/v1/keyring?scope=local", method: .post, headers: json, body: keyBody(Keyring.generateKey())
            ) { r in
                #expect(r.status == .unauthorized)
            }
        }
    }

    /// The browser dashboard: the page loads without the token (it holds no data), and its
    /// API calls carry the token as `access_token` (EventSource cannot set headers); the
    /// scheme name is case-insensitive.
    @Test func dashboardAndQueryTokenAndLowercaseScheme() async throws {
        try await withAgent(keyring: nil, token: Self.token) { client, _ in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("access_token"))
            }
            try await client.execute(uri: "/v1/self?access_token=\(Self.token)", method: .get) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/v1/self?access_token=wrong-token-0123456789", method: .get) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/self", method: .get, headers: [.authorization: "bearer \(Self.token)"]) {
                r in #expect(r.status == .ok)
            }
            try await client.execute(uri: "/v1/members", method: .get) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test func theRightTokenIsLetThrough() async throws {
        try await withAgent(keyring: nil, token: Self.token) { client, node in
            try await client.execute(uri: "/v1/self", method: .get, headers: [.authorization: "Bearer \(Self.token)"]) {
                r in
                #expect(r.status == .ok)
                let me = try decode(MemberJSON.self, r)
                #expect(me.name == "trust")
            }
            try await client.execute(
                uri: "/v1/keyring?scope=local", method: .get, headers: [.authorization: "Bearer \(Self.token)"]
            ) { r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local?.mode == "off")
            }
            // Errors behind the token are still JSON errors with their own status.
            try await client.execute(
                uri: "/v1/members?status=bogus", method: .get, headers: [.authorization: "Bearer \(Self.token)"]
            ) { r in
                #expect(r.status == .badRequest)
                #expect(message(r).contains("status"))
            }
            #expect(await node.keyring().keys.isEmpty, "the refused install earlier changed nothing")
        }
    }

    @Test func withoutATokenNoAuthorizationIsNeeded() async throws {
        try await withAgent(keyring: nil) { client, _ in
            try await client.execute(uri: "/v1/self", method: .get) { r in
                #expect(r.status == .ok)
            }
        }
    }

    // MARK: Keyring routes, local scope

    @Test func localKeyringRoutesOnAKeyedNode() async throws {
        let k1 = Keyring.generateKey()
        let k2 = Keyring.generateKey()
        let initial = KeyringState(keyring: try Keyring(primaryBase64: k1))
        try await withAgent(keyring: try Keyring(primaryBase64: k1)) { client, node in
            try await client.execute(uri: "/v1/keyring?scope=local", method: .get) { r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.scope == "local")
                #expect(reply.local == initial)
                #expect(reply.local?.keys == [k1])
                #expect(reply.local?.mode == "require")
                #expect(reply.swarm == nil)
            }
            // Install: the new key is secondary.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .post, headers: json, body: keyBody(k2)) {
                r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local?.keys == [k1, k2])
            }
            #expect(await node.keyring().keys == [k1, k2])
            // Installing again is a no-op.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .post, headers: json, body: keyBody(k2)) {
                r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local?.keys == [k1, k2])
            }
            // Use: the new key becomes primary.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .put, headers: json, body: keyBody(k2)) {
                r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local?.keys == [k2, k1])
                #expect(reply.local?.primary == k2)
            }
            // The primary cannot be removed.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .delete, headers: json, body: keyBody(k2))
            { r in
                #expect(r.status == .badRequest)
                #expect(message(r).contains("primary key cannot be removed"))
            }
            #expect(await node.keyring().keys == [k2, k1], "the failed removal changed nothing")
            // The old one can.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .delete, headers: json, body: keyBody(k1))
            { r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local?.keys == [k2])
            }
            // Using a key that is not installed.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .put, headers: json, body: keyBody(k1)) {
                r in
                #expect(r.status == .badRequest)
                #expect(message(r).contains("not installed"))
            }
            // Modes.
            try await client.execute(
                uri: "/v1/keyring/mode?scope=local", method: .put, headers: json,
                body: ByteBuffer(string: "{\"mode\":\"bogus\"}")
            ) { r in
                #expect(r.status == .badRequest)
                let m = message(r)
                #expect(m.contains("mode must be one of open, accept, require"), "\(m)")
                #expect(m.contains("bogus"))
            }
            #expect(await node.keyring().mode == "require")
            try await client.execute(
                uri: "/v1/keyring/mode?scope=local", method: .put, headers: json,
                body: ByteBuffer(string: "{\"mode\":\"accept\"}")
            ) { r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local?.mode == "accept")
            }
            let expected = try Keyring(primaryBase64: k2, mode: .accept)
            #expect(await node.keyring() == KeyringState(keyring: expected))
        }
    }

    @Test(arguments: [
        ("/v1/keyring?scope=local", HTTPRequest.Method.post, "{\"key\": \"not base64!\"}", "base64"),
        ("/v1/keyring?scope=local", .post, "{\"key\": \"AAAA\"}", "3 bytes"),
        ("/v1/keyring?scope=local", .put, "{\"key\": \"%%%\"}", "base64"),
        ("/v1/keyring?scope=local", .delete, "{\"key\": \"AAAA\"}", "3 bytes"),
        ("/v1/keyring?scope=local", .post, "{\"kee\": \"x\"}", "key"),
        ("/v1/keyring?scope=local", .post, "{not json", "JSON"),
        ("/v1/keyring/mode?scope=local", .put, "{\"mode\": 3}", "mode"),
        ("/v1/keyring?scope=bogus", .get, "", "scope must be local or swarm"),
        ("/v1/keyring/mode?scope=everywhere", .put, "{\"mode\": \"open\"}", "scope must be local or swarm"),
        ("/v1/keyring?timeout=forever", .get, "", "timeout"),
        ("/v1/keyring?timeout=2m", .get, "", "at most 60s"),
    ])
    func malformedKeyringRequestsAre400(uri: String, method: HTTPRequest.Method, body: String, expected: String)
        async throws
    {
        let k1 = Keyring.generateKey()
        try await withAgent(keyring: try Keyring(primaryBase64: k1)) { client, node in
            try await client.execute(uri: uri, method: method, headers: json, body: ByteBuffer(string: body)) { r in
                #expect(r.status == .badRequest)
                let m = message(r)
                #expect(m.contains(expected), "\(m)")
            }
            let unchanged = try Keyring(primaryBase64: k1)
            #expect(await node.keyring() == KeyringState(keyring: unchanged), "nothing changed")
        }
    }

    @Test func aNodeWithoutAKeyringRefusesSwarmChangesButLearnsAKeyLocally() async throws {
        let k = Keyring.generateKey()
        let learned = KeyringState(keyring: try Keyring(primaryBase64: k, mode: .open))
        try await withAgent(keyring: nil) { client, node in
            try await client.execute(uri: "/v1/keyring?scope=local", method: .get) { r in
                #expect(r.status == .ok)
                let local = try decode(KeyringReply.self, r).local
                #expect(local?.keys == [])
                #expect(local?.mode == "off")
            }
            // Swarm scope (the default, and explicit) would send the key in the clear: refused.
            for uri in ["/v1/keyring", "/v1/keyring?scope=swarm"] {
                try await client.execute(uri: uri, method: .post, headers: json, body: keyBody(k)) { r in
                    #expect(r.status == .conflict, "\(uri)")
                    #expect(message(r).contains("encryption is not enabled"))
                }
            }
            try await client.execute(
                uri: "/v1/keyring/mode", method: .put, headers: json, body: ByteBuffer(string: "{\"mode\":\"require\"}")
            ) { r in
                #expect(r.status == .conflict)
            }
            // Locally, use and mode need a keyring first.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .put, headers: json, body: keyBody(k)) {
                r in
                #expect(r.status == .conflict)
                #expect(message(r).contains("encryption is not enabled"))
            }
            try await client.execute(
                uri: "/v1/keyring/mode?scope=local", method: .put, headers: json,
                body: ByteBuffer(string: "{\"mode\":\"accept\"}")
            ) { r in
                #expect(r.status == .conflict)
            }
            #expect(await node.keyring().mode == "off", "nothing was turned on by the refused requests")
            // Installing locally turns on reading sealed packets, still sending plain.
            try await client.execute(uri: "/v1/keyring?scope=local", method: .post, headers: json, body: keyBody(k)) {
                r in
                #expect(r.status == .ok)
                let local = try decode(KeyringReply.self, r).local
                #expect(local?.keys == [k])
                #expect(local?.mode == "open")
            }
            try await client.execute(uri: "/v1/keyring?scope=local", method: .get) { r in
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.local == learned)
            }
        }
    }

    // MARK: Keyring routes, swarm scope

    @Test func swarmScopeOnASingleKeyedNode() async throws {
        let k1 = Keyring.generateKey()
        let k2 = Keyring.generateKey()
        try await withAgent(keyring: try Keyring(primaryBase64: k1)) { client, node in
            try await client.execute(uri: "/v1/keyring?timeout=3s", method: .get) { r in
                #expect(r.status == .ok)
                let reply = try decode(KeyringReply.self, r)
                #expect(reply.scope == "swarm")
                #expect(reply.local == nil)
                let swarm = try #require(reply.swarm)
                #expect(swarm.responses == 1)
                #expect(swarm.nodes == 1)
                #expect(swarm.keys == [k1: 1])
                #expect(swarm.primaryKeys == [k1: 1])
                #expect(swarm.modes == ["require": 1])
                #expect(swarm.errors.isEmpty)
                #expect(swarm.complete)
            }
            // The default scope is the swarm: the install reaches this node too.
            try await client.execute(uri: "/v1/keyring?timeout=3s", method: .post, headers: json, body: keyBody(k2)) {
                r in
                #expect(r.status == .ok)
                let swarm = try #require(try decode(KeyringReply.self, r).swarm)
                #expect(swarm.responses == 1)
                #expect(swarm.keys == [k1: 1, k2: 1])
                #expect(swarm.primaryKeys == [k1: 1])
                #expect(swarm.complete)
            }
            #expect(await node.keyring().keys == [k1, k2])
            // A member that cannot apply the change answers with its error.
            try await client.execute(uri: "/v1/keyring?timeout=3s", method: .delete, headers: json, body: keyBody(k1)) {
                r in
                #expect(r.status == .ok)
                let swarm = try #require(try decode(KeyringReply.self, r).swarm)
                #expect(swarm.responses == 1)
                #expect(swarm.errors["trust"]?.contains("primary") == true, "\(swarm.errors)")
                #expect(!swarm.complete)
            }
            #expect(await node.keyring().keys == [k1, k2])
        }
    }
}

// MARK: - Configuration

@Suite(.tags(.configuration)) struct TrustConfigurationTests {
    func flags(_ edit: (inout AgentConfiguration.Overrides) -> Void) -> AgentConfiguration.Overrides {
        var o = AgentConfiguration.Overrides()
        o.name = "a"
        edit(&o)
        return o
    }

    func rejection(_ o: AgentConfiguration.Overrides) -> String? {
        do {
            _ = try AgentConfiguration.resolve(file: nil, flags: o)
            return nil
        } catch {
            #expect(error is ConfigurationError)
            return "\(error)"
        }
    }

    @Test(arguments: ["not base64!", "AAAA", ""])
    func aBadEncryptKeyIsRejected(key: String) {
        let m = rejection(flags { $0.encrypt = key })
        #expect(m?.hasPrefix("encrypt:") == true, "\(m ?? "accepted")")
    }

    @Test func aGoodEncryptKeyGivesTheNodeAKeyring() throws {
        let key = Keyring.generateKey()
        let c = try AgentConfiguration.resolve(file: nil, flags: flags { $0.encrypt = key })
        #expect(c.encrypt == key)
        #expect(c.encryptMode == "require", "require by default")
        let ring = try #require(try c.nodeConfiguration().keyring)
        #expect(try ring == Keyring(primaryBase64: key, mode: .require))

        let open = try AgentConfiguration.resolve(
            file: nil,
            flags: flags {
                $0.encrypt = key
                $0.encryptMode = "open"
            })
        #expect(try open.nodeConfiguration().keyring?.mode == .open)
        let plain = try AgentConfiguration.resolve(file: nil, flags: flags { _ in })
        #expect(try plain.nodeConfiguration().keyring == nil, "no key: no keyring")
    }

    @Test func aBogusEncryptModeIsRejected() {
        let m = rejection(flags { $0.encryptMode = "bogus" })
        #expect(m?.contains("encrypt_mode") == true, "\(m ?? "accepted")")
        #expect(m?.contains("bogus") == true)
        #expect(rejection(flags { $0.encryptMode = "Require" }) != nil, "modes are lower case")
    }

    /// Off loopback the token cannot be turned off (without one configured, the agent makes one).
    @Test func httpOffLoopbackNeedsAToken() throws {
        let m = rejection(
            flags {
                $0.http = "0.0.0.0:7950"
                $0.httpToken = "none"
            })
        #expect(m?.contains("http_token") == true && m?.contains("loopback") == true, "\(m ?? "accepted")")
        for http in ["10.1.2.3:7950", "[::]:7950"] {
            let refused = rejection(
                flags {
                    $0.http = http
                    $0.httpToken = "none"
                })
            #expect(refused?.contains("http_token") == true, "\(http)")
        }

        let token = "0123456789abcdef"
        let c = try AgentConfiguration.resolve(
            file: nil,
            flags: flags {
                $0.http = "0.0.0.0:7950"
                $0.httpToken = token
            })
        #expect(c.httpToken == token)
        #expect(c.http == "0.0.0.0:7950")
    }

    /// On loopback, `none` turns the token off.
    @Test(arguments: ["127.0.0.1:7950", "127.0.0.2:8000", "localhost:7950", "[::1]:7950"])
    func loopbackHTTPNeedsNoToken(http: String) throws {
        let c = try AgentConfiguration.resolve(
            file: nil,
            flags: flags {
                $0.http = http
                $0.httpToken = "none"
            })
        #expect(c.httpToken == "none")
    }

    @Test(arguments: ["0123456789abcde", "short", "", "0123456789 abcdef-with-space"])
    func aShortOrSpacedTokenIsRejected(token: String) {
        let m = rejection(flags { $0.httpToken = token })
        #expect(m?.contains("http_token") == true, "\(m ?? "accepted")")
        #expect(m?.contains("16") == true)
    }

    @Test func tomlReadsTheTrustKeys() throws {
        let key = Keyring.generateKey()
        let text = """
            name = "alpha"
            http = "0.0.0.0:7950"
            encrypt = "\(key)"
            encrypt_mode = "accept"
            http_token = "a-long-enough-token-0123"
            """
        let file = try AgentConfiguration.overrides(fromTOML: text)
        #expect(file.encrypt == key)
        #expect(file.encryptMode == "accept")
        #expect(file.httpToken == "a-long-enough-token-0123")
        let c = try AgentConfiguration.resolve(file: file, flags: AgentConfiguration.Overrides())
        #expect(c.encrypt == key)
        #expect(c.encryptMode == "accept")
        #expect(c.httpToken == "a-long-enough-token-0123")
        #expect(try c.nodeConfiguration().keyring == Keyring(primaryBase64: key, mode: .accept))

        // Flags override the file.
        var flags = AgentConfiguration.Overrides()
        flags.encryptMode = "require"
        flags.httpToken = "another-token-abcdefgh"
        let d = try AgentConfiguration.resolve(file: file, flags: flags)
        #expect(d.encryptMode == "require")
        #expect(d.httpToken == "another-token-abcdefgh")
        #expect(d.encrypt == key)
    }

    @Test func tomlTrustKeysMustBeStrings() {
        for line in ["encrypt = 5", "encrypt_mode = true", "http_token = 1234567890123456789"] {
            #expect(throws: ConfigurationError.self, "\(line)") { try AgentConfiguration.overrides(fromTOML: line) }
        }
    }

    @Test func aBadKeyInTheFileIsRejectedOnResolve() throws {
        let file = try AgentConfiguration.overrides(fromTOML: "name = \"a\"\nencrypt = \"AAAA\"")
        #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.resolve(file: file, flags: AgentConfiguration.Overrides())
        }
    }
}
