import ColonyCore
import ColonyNIO
import ColonyTrust
import Foundation
import Hummingbird
import NIOCore

/// Keyring routes, in Consul's shape (`/v1/operator/keyring`): GET lists, POST installs, PUT
/// makes primary, DELETE removes; `PUT /v1/keyring/mode` steps encryption on or off. Every
/// change goes to the whole swarm unless `?scope=local`.
struct KeyRequest: Decodable {
    var key: String
}

/// A member's network coordinate (Serf's shape: `Vec`, `Error`, `Adjustment`, `Height`, in
/// seconds).
public struct CoordinateJSON: ResponseCodable, Equatable, Sendable {
    public var id: String
    public var name: String
    public var vec: [Double]
    public var error: Double
    public var adjustment: Double
    public var height: Double

    init(id: String, name: String, coordinate c: Coordinate) {
        self.id = id
        self.name = name
        vec = c.vec
        error = c.error
        adjustment = c.adjustment
        height = c.height
    }

    public var coordinate: Coordinate { Coordinate(vec: vec, error: error, adjustment: adjustment, height: height) }
}

struct RevocationRequest: Decodable {
    var revocation: String
}

struct RevocationResponse: ResponseCodable {
    var revoked: String
}

struct ModeRequest: Decodable {
    var mode: String
}

struct KeyringResponse: ResponseCodable {
    /// "local" or "swarm".
    var scope: String
    /// This node's keyring (local scope).
    var local: KeyringState?
    /// What the swarm answered (swarm scope).
    var swarm: KeyringSummary?
}

/// Coordinates and the authority's revocations.
func addTrustRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    router.get("/v1/coordinates") { _, _ -> [CoordinateJSON] in
        let (mine, peers) = await node.coordinates()
        var out: [CoordinateJSON] = []
        let me = await node.me()
        if let me { out.append(CoordinateJSON(id: me.id.description, name: me.name, coordinate: mine)) }
        for m in await node.members() where m.id != me?.id {
            if let c = peers[m.id] { out.append(CoordinateJSON(id: m.id.description, name: m.name, coordinate: c)) }
        }
        return out
    }

    router.get("/v1/revocations") { _, _ -> [String] in
        await node.revokedIdentities().map(\.description)
    }
    router.post("/v1/revocations") { request, context -> RevocationResponse in
        let body = try await request.decode(as: RevocationRequest.self, context: context)
        guard let bytes = Data(base64Encoded: body.revocation), let r = try? Revocation(decoding: Array(bytes)) else {
            throw HTTPError(.badRequest, message: "revocation must be the base64 that `colony cert revoke` prints")
        }
        do {
            try await node.revoke(r)
        } catch let e as StateError {
            throw HTTPError(.badRequest, message: e.description)
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
        return RevocationResponse(revoked: r.id.description)
    }
}

/// The keyring, locally or on every member.
func addKeyringRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    @Sendable func scope(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("scope") ?? "swarm" {
        case "local": return true
        case "swarm": return false
        case let s: throw HTTPError(.badRequest, message: "scope must be local or swarm (got '\(s)')")
        }
    }
    @Sendable func timeout(_ request: Request) throws -> Duration {
        guard let t = request.uri.queryParameters.get("timeout") else { return .seconds(5) }
        guard let d = StateHTTP.duration(String(t)), d > .zero, d <= .seconds(60) else {
            throw HTTPError(
                .badRequest, message: "timeout must be a duration like 5s or 500ms, at most 60s (got '\(t)')")
        }
        return d
    }
    @Sendable func run(_ op: KeyringOperation, _ request: Request) async throws -> KeyringResponse {
        do {
            if try scope(request) {
                return KeyringResponse(scope: "local", local: try await node.changeKeyringLocally(op))
            }
            let summary = try await node.changeKeyring(
                op, order: try OrderParameter.keyringOrder(request), timeout: try timeout(request))
            return KeyringResponse(scope: "swarm", swarm: summary)
        } catch let e as OrderRefusal {
            throw HTTPError(.forbidden, message: e.description)
        } catch let e as KeyringError {
            throw HTTPError(e == .noKeyring || e == .notSealing ? .conflict : .badRequest, message: e.description)
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
    }
    @Sendable func key(_ request: Request, _ context: BasicRequestContext) async throws -> [UInt8] {
        let body = try await request.decode(as: KeyRequest.self, context: context)
        do {
            return try Keyring.decode(body.key)
        } catch let e as KeyringError {
            throw HTTPError(.badRequest, message: e.description)
        }
    }

    router.get("/v1/keyring") { request, _ in try await run(.list, request) }
    router.post("/v1/keyring") { request, context in try await run(.install(try await key(request, context)), request) }
    router.put("/v1/keyring") { request, context in try await run(.use(try await key(request, context)), request) }
    router.delete("/v1/keyring") { request, context in try await run(.remove(try await key(request, context)), request)
    }
    router.put("/v1/keyring/mode") { request, context in
        let body = try await request.decode(as: ModeRequest.self, context: context)
        guard let mode = Keyring.Mode(rawValue: body.mode) else {
            throw HTTPError(
                .badRequest,
                message:
                    "mode must be one of \(Keyring.Mode.allCases.map(\.rawValue).joined(separator: ", "))"
                    + " (got '\(body.mode)')"
            )
        }
        return try await run(.mode(mode), request)
    }
}

/// With a token (the default, issue 18), every request must carry `Authorization: Bearer
/// <token>`, or (for the browser's EventSource, which cannot set headers) `?access_token=<token>`
/// as RFC 6750 §2.3 allows; compared in constant time. Others get a 401 with a JSON error.
/// Open without it: the dashboard page itself (`GET /`: a static page holding no data, which
/// reads the token from its URL fragment and sends it with every call) and, for Prometheus
/// scrapers and health probes, `GET /metrics` and `GET /v1/health` (counts, no secrets, no
/// actions).
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    static var openPaths: Set<String> { ["/", "/metrics", "/v1/health"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.method == .get || request.method == .head, Self.openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        let header = request.headers[HTTPFields.Element.Name("Authorization")!] ?? ""
        var given: [UInt8]?
        if header.count > 7, header.prefix(7).lowercased() == "bearer " {
            given = Array(header.utf8.dropFirst(7))
        } else if let t = request.uri.queryParameters.get("access_token") {
            given = Array(String(t).utf8)
        }
        guard let given, Self.equal(given, token) else {
            var r = JSONErrorMiddleware<Context>.json(
                .unauthorized,
                "this agent requires a bearer token (Authorization: Bearer …). The agent keeps it in its "
                    + "data directory (http-token) and leaves it in the runtime directory for the CLI, which also "
                    + "reads --token, --token-file, COLONY_HTTP_TOKEN and COLONY_HTTP_TOKEN_FILE; the dashboard "
                    + "opens as /#token=…"
            )
            r.headers[HTTPFields.Element.Name("WWW-Authenticate")!] = "Bearer realm=\"colony\""
            return r
        }
        return try await next(request, context)
    }

    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}
