import ColonyCore
import ColonyNIO
import Foundation
import Hummingbird
import NIOCore
import Prometheus

/// A member as the HTTP API shows it. Field names are a contract (issue #3).
public struct MemberJSON: ResponseCodable, Equatable, Sendable {
    public var name: String
    public var id: String
    public var address: String
    public var status: String
    public var incarnation: UInt64
    public var tags: [String: String]
    public var protocolVersion: Int

    public init(_ m: Member) {
        name = m.name
        id = m.id.description
        address = m.address.description
        status = m.status.description
        incarnation = m.incarnation
        tags = m.tags
        protocolVersion = Int(m.protocolVersion)
    }
}

struct HealthJSON: ResponseCodable {
    var status: String
    var name: String
    var members: [String: Int]
}

struct JoinRequest: Decodable {
    var seeds: [String]
}

struct JoinResponse: ResponseCodable {
    var joined: Bool
    var members: Int
}

struct LeaveResponse: ResponseCodable {
    var left: Bool
}

struct ErrorJSON: Codable {
    struct Detail: Codable { var message: String }
    var error: Detail
}

/// Every error becomes `{"error": {"message": …}}` with its status: malformed requests get a
/// clear 4xx, unknown routes a 404, and nothing leaks as an empty or HTML body.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message =
                error.body
                ?? (error.status == .notFound
                    ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return Self.json(error.status, message)
        } catch let error as any HTTPResponseError {
            return Self.json(error.status, "\(error)")
        } catch let error as DecodingError {
            return Self.json(.badRequest, "malformed JSON body: \(Self.describe(error))")
        }
    }

    static func json(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = (try? JSONEncoder().encode(ErrorJSON(error: .init(message: message)))) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .dataCorrupted(let c): c.debugDescription
        case .keyNotFound(let k, _): "missing field '\(k.stringValue)'"
        case .typeMismatch(_, let c): "wrong type at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .valueNotFound(_, let c): "missing value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
        @unknown default: "\(e)"
        }
    }
}

/// `tag=key=value` query parameters, in order; a malformed one is a 400.
func tagFilters<S: StringProtocol>(_ values: [S]) throws -> [(key: String, value: String)] {
    try values.map { t in
        let parts = String(t).split(separator: Character("="), maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw HTTPError(.badRequest, message: "tag must be key=value (got '\(t)')")
        }
        return (parts[0], parts[1])
    }
}

/// The agent's routes. A plain function, so tests drive it in-process.
public func buildRouter(
    node: ColonyNode, registry: PrometheusCollectorRegistry?, token: String? = nil, loopback: Bool = true
) -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: JSONErrorMiddleware())
    router.add(middleware: OriginGuardMiddleware(loopback: loopback))
    if let token { router.add(middleware: BearerTokenMiddleware(token: Array(token.utf8))) }

    router.get("/") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: Dashboard.html)))
    }

    addMembershipRoutes(to: router, node: node)
    addForceLeaveRoutes(to: router, node: node)
    router.get("/metrics") { _, _ in
        let bytes = registry?.emitToBuffer() ?? []
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
    addStateRoutes(to: router, node: node)
    addTrustRoutes(to: router, node: node)
    addKeyringRoutes(to: router, node: node)
    addEvictionRoutes(to: router, node: node)
    addHiveRoutes(to: router, node: node)
    return router
}

/// This member, the members, health, join and leave, and membership events as SSE.
func addMembershipRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    router.get("/v1/self") { _, _ -> MemberJSON in
        guard let me = await node.me() else { throw HTTPError(.serviceUnavailable, message: "the node is not running") }
        return MemberJSON(me)
    }

    router.get("/v1/members") { request, _ -> [MemberJSON] in
        let q = request.uri.queryParameters
        var status: MemberStatus?
        if let s = q.get("status") {
            guard let parsed = MemberStatus(name: s) else {
                throw HTTPError(.badRequest, message: "status must be one of alive, suspect, dead, left (got '\(s)')")
            }
            status = parsed
        }
        let tags = try tagFilters(q.getAll("tag"))
        return await node.members(status: status).filter { m in tags.allSatisfy { m.tags[$0.0] == $0.1 } }.map(
            MemberJSON.init)
    }

    router.get("/v1/health") { _, _ -> HealthJSON in
        guard let me = await node.me() else { throw HTTPError(.serviceUnavailable, message: "the node is not running") }
        let counts = await node.statusCounts()
        var members: [String: Int] = [:]
        for s in MemberStatus.allCases { members[s.description] = counts[s] ?? 0 }
        return HealthJSON(status: "ok", name: me.name, members: members)
    }

    router.post("/v1/join") { request, context -> JoinResponse in
        let body = try await request.decode(as: JoinRequest.self, context: context)
        guard !body.seeds.isEmpty else { throw HTTPError(.badRequest, message: "seeds must name at least one address") }
        do {
            try await node.join(seeds: body.seeds)
        } catch let e as AddressError {
            throw HTTPError(.badRequest, message: e.description)
        } catch let e as ColonyError {
            throw HTTPError(.badGateway, message: e.description)
        }
        return JoinResponse(joined: true, members: await node.members(status: .alive).count)
    }

    router.post("/v1/leave") { _, _ -> LeaveResponse in
        do {
            try await node.leave()
        } catch let e as ColonyError {
            throw HTTPError(.conflict, message: e.description)
        }
        return LeaveResponse(left: true)
    }

    router.get("/v1/events") { _, _ in
        let events = node.events
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": colony membership events\n\n"))
            for await event in events {
                guard let line = SSE.encode(event) else { continue }
                try await writer.write(ByteBuffer(string: line))
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// Server-Sent Events: one `member` event per membership change (data: the member JSON
/// plus `previous`), and lifecycle events.
enum SSE {
    struct Change: Encodable {
        var member: MemberJSON
        var previous: String?
    }

    static func encode(_ event: Event) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        switch event {
        case .memberChanged(let m, let previous):
            guard let data = try? encoder.encode(Change(member: MemberJSON(m), previous: previous?.status.description))
            else { return nil }
            return "event: member\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
        case .joined(let n):
            return "event: joined\ndata: {\"members\":\(n)}\n\n"
        case .leaveCompleted:
            return "event: left\ndata: {}\n\n"
        case .joinFailed(let attempt, _):
            return "event: joinFailed\ndata: {\"attempt\":\(attempt)}\n\n"
        case .memberReclaimed(let id):
            return "event: reclaimed\ndata: {\"id\":\"\(id)\"}\n\n"
        case .peerGraylisted(let id, let score):
            return "event: graylisted\ndata: {\"id\":\"\(id)\",\"score\":\(Int(score))}\n\n"
        case .revoked(let id):
            return "event: revoked\ndata: {\"id\":\"\(id)\"}\n\n"
        case .evictionProposed(let id, let score):
            return "event: evictionProposed\ndata: {\"id\":\"\(id)\",\"score\":\(Int(score))}\n\n"
        case .evicted(let e):
            return
                "event: evicted\ndata: {\"id\":\"\(e.id)\",\"issuer\":\"\(e.issuer)\","
                + "\"reason\":\"\(e.reason)\",\"expiresMs\":\(e.expiresMs)}\n\n"
        case .evictionEnded(let id, let lifted):
            return "event: evictionEnded\ndata: {\"id\":\"\(id)\",\"lifted\":\(lifted)}\n\n"
        case .hive(let change):
            let body: String
            switch change {
            case .founded(let cell, let term): body = "{\"change\":\"founded\",\"cell\":\"\(cell)\",\"term\":\(term)}"
            case .elected(let cell, let term): body = "{\"change\":\"elected\",\"cell\":\"\(cell)\",\"term\":\(term)}"
            case .steppedDown(let cell, let term, let reason):
                body = "{\"change\":\"steppedDown\",\"cell\":\"\(cell)\",\"term\":\(term),\"reason\":\"\(reason)\"}"
            case .accepted(let cell, let term, let queen):
                body = "{\"change\":\"accepted\",\"cell\":\"\(cell)\",\"term\":\(term),\"queen\":\"\(queen)\"}"
            case .leftCell(let cell, let reason):
                body = "{\"change\":\"leftCell\",\"cell\":\"\(cell)\",\"reason\":\"\(reason)\"}"
            case .splitting(let cell, let newCell, let designate, let voters):
                body =
                    "{\"change\":\"splitting\",\"cell\":\"\(cell)\",\"newCell\":\"\(newCell)\","
                    + "\"designate\":\"\(designate)\",\"voters\":\(voters.count)}"
            }
            return "event: hive\ndata: \(body)\n\n"
        case .keyChanged, .keysCollected, .userEvent, .queryReceived, .queryResponse, .queryFinished, .peerForgiven:
            return nil // state changes stream from /v1/log
        }
    }
}
