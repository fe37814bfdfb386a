import ColonyCore
import ColonyNIO
import ColonyStore
import Foundation
import Hummingbird
import NIOCore

/// One sibling of a key, as the HTTP API shows it. Field names are a contract (issue #4).
public struct SiblingJSON: Codable, Equatable, Sendable {
    /// The value, base64 (absent for a delete).
    public var value: String?
    /// The value as UTF-8 text, when it is valid UTF-8.
    public var text: String?
    public var deleted: Bool
    public var origin: String
    public var counter: UInt64
    /// Hybrid-clock time: wall milliseconds and a logical counter.
    public var timestampMs: UInt64
    public var logical: UInt32

    public init(_ r: StateRecord) {
        value = r.value.map { Data($0).base64EncodedString() }
        text = r.value.flatMap { String(validating: $0, as: UTF8.self) }
        deleted = r.isTombstone
        origin = r.dot.origin.description
        counter = r.dot.counter
        timestampMs = r.timestamp.physicalMs
        logical = r.timestamp.logical
    }
}

/// A key's read: the last-writer-wins value, every sibling, and the context to write back.
public struct KeyJSON: ResponseCodable, Equatable, Sendable {
    public var key: String
    /// The convenience answer (last writer wins on the hybrid clock), base64; null if deleted.
    public var value: String?
    public var text: String?
    public var siblings: [SiblingJSON]
    /// Opaque: send it back in `X-Colony-Context` to resolve these siblings.
    public var context: String

    public init(key: String, read: ReadResult) {
        self.key = key
        let w = read.winner
        value = w?.value.map { Data($0).base64EncodedString() }
        text = w?.value.flatMap { String(validating: $0, as: UTF8.self) }
        siblings = read.siblings.map(SiblingJSON.init)
        context = Data(Wire.encode(context: read.context)).base64EncodedString()
    }
}

struct WriteJSON: ResponseCodable {
    var key: String
    var origin: String
    var counter: UInt64
    var deleted: Bool
    /// The context after this write (to chain another write without reading).
    var context: String
}

struct EventJSON: ResponseCodable {
    var id: String
    var name: String
    var lamport: UInt64
    var coalesce: Bool
}

enum StateHTTP {
    static let contextHeader = HTTPFields.Element.Name("X-Colony-Context")!

    /// The key in `/v1/kv/<key>` (may contain slashes; percent-decoded).
    static func key(_ request: Request) throws -> String {
        let path = request.uri.path
        let prefix = "/v1/kv/"
        guard path.hasPrefix(prefix) else { throw HTTPError(.badRequest, message: "missing key") }
        let raw = String(path.dropFirst(prefix.count))
        guard let key = raw.removingPercentEncoding, !key.isEmpty else {
            throw HTTPError(.badRequest, message: "the key is empty or badly percent-encoded")
        }
        return key
    }

    static func context(_ request: Request) throws -> CausalContext? {
        guard let header = request.headers[contextHeader] else { return nil }
        guard let data = Data(base64Encoded: header) else {
            throw HTTPError(
                .badRequest, message: "X-Colony-Context is not base64 (send back the context a read returned)")
        }
        do {
            return try Wire.decodeContext(data)
        } catch {
            throw HTTPError(.badRequest, message: "X-Colony-Context is not a context this node wrote: \(error)")
        }
    }

    static func body(_ request: Request, limit: Int) async throws -> [UInt8] {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch {
            throw HTTPError(.contentTooLarge, message: "the body is larger than \(limit) bytes")
        }
        return Array(buffer.readableBytesView)
    }

    static func mapState(_ error: StateError) -> HTTPError {
        switch error {
        case .notActive, .counterExhausted: HTTPError(.serviceUnavailable, message: error.description)
        case .valueTooLarge, .payloadTooLarge: HTTPError(.contentTooLarge, message: error.description)
        case .nodeBudgetExceeded, .swarmBudgetExceeded:
            HTTPError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), message: error.description)
        case .emptyKey, .keyTooLong, .emptyName, .timeoutOutOfRange, .reservedName, .invalidRevocation:
            HTTPError(.badRequest, message: error.description)
        }
    }

    static func write(_ node: ColonyNode, key: String, value: [UInt8]?, context: CausalContext?) async throws
        -> WriteJSON
    {
        let record: StateRecord
        do {
            record = try await node.put(key, value: value, context: context)
        } catch let e as StateError {
            throw mapState(e)
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
        let after = try await node.get(key)
        return WriteJSON(
            key: key, origin: record.dot.origin.description, counter: record.dot.counter,
            deleted: value == nil, context: Data(Wire.encode(context: after.context)).base64EncodedString())
    }

    /// A positive duration like `500ms`, `2.5s`, `1m` or `3` (seconds), or nil. Total: any
    /// other text — exponents (`1e300s`), hex, signs, NaN, more than `maxDurationMs` (a day) —
    /// gives nil rather than a trap.
    static func duration(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        var number = Substring(t)
        var msPerUnit = 1000.0
        if t.hasSuffix("ms") {
            (number, msPerUnit) = (t.dropLast(2), 1)
        } else if t.hasSuffix("s") {
            number = t.dropLast(1)
        } else if t.hasSuffix("m") {
            (number, msPerUnit) = (t.dropLast(1), 60_000)
        }
        // Decimal digits with at most one point: no sign, exponent, hex, "inf" or "nan".
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, let v = Double(number), v.isFinite, v > 0
        else { return nil }
        let ms = v * msPerUnit
        guard ms.isFinite, ms <= maxDurationMs else { return nil }
        return .milliseconds(Int64(ms))
    }

    /// The longest duration a parameter may name, in milliseconds (a day).
    static let maxDurationMs: Double = 86_400_000
}

/// Routes for state, events, queries and the log (issue #4). Added by `buildRouter`.
func addStateRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    addKeyValueRoutes(to: router, node: node)
    addEventRoutes(to: router, node: node)
    addLogRoute(to: router, node: node)
}

/// Keys: read, write, delete, list, and the state's summary.
func addKeyValueRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    let settings = node.configuration.settings

    router.get("/v1/kv/**") { request, _ -> Response in
        let key = try StateHTTP.key(request)
        let read = try await node.get(key)
        guard !read.siblings.isEmpty, !read.siblings.allSatisfy(\.isTombstone) else {
            throw HTTPError(.notFound, message: "no key '\(key)'")
        }
        let json = KeyJSON(key: key, read: read)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(json)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers[StateHTTP.contextHeader] = json.context
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    router.put("/v1/kv/**") { request, _ -> WriteJSON in
        let key = try StateHTTP.key(request)
        let context = try StateHTTP.context(request)
        let value = try await StateHTTP.body(request, limit: settings.maxValueBytes)
        return try await StateHTTP.write(node, key: key, value: value, context: context)
    }

    router.delete("/v1/kv/**") { request, _ -> WriteJSON in
        let key = try StateHTTP.key(request)
        let context = try StateHTTP.context(request)
        let read = try await node.get(key)
        guard !read.siblings.isEmpty else { throw HTTPError(.notFound, message: "no key '\(key)'") }
        return try await StateHTTP.write(node, key: key, value: nil, context: context)
    }

    router.get("/v1/state") { _, _ -> StateJSON in
        let s = await node.stateSummary()
        let offset = (try? await node.logOffset()) ?? 0
        return StateJSON(
            keys: s.keys, tombstones: s.tombstones, records: s.records, bytes: s.bytes, digest: s.digest,
            logOffset: offset)
    }

    router.get("/v1/kv") { request, _ -> [KeyJSON] in
        let q = request.uri.queryParameters
        let prefix = q.get("prefix") ?? ""
        var limit = 1000
        if let l = q.get("limit") {
            guard let v = Int(l), v > 0, v <= 100_000 else {
                throw HTTPError(.badRequest, message: "limit must be 1…100000 (got '\(l)')")
            }
            limit = v
        }
        return try await node.list(prefix: prefix, limit: limit).map { KeyJSON(key: $0.key, read: $0.read) }
    }

}

/// User events, queries and the durable log.
func addEventRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    let settings = node.configuration.settings

    router.post("/v1/event/{name}") { request, context -> EventJSON in
        let name = context.parameters.get("name") ?? ""
        let q = request.uri.queryParameters
        var coalesce = false
        if let c = q.get("coalesce") {
            guard let b = Bool(c) else {
                throw HTTPError(.badRequest, message: "coalesce must be true or false (got '\(c)')")
            }
            coalesce = b
        }
        let payload = try await StateHTTP.body(request, limit: settings.maxEventPayloadBytes)
        do {
            let e = try await node.event(name, payload: payload, coalesce: coalesce)
            return EventJSON(
                id: "\(e.id.origin):\(e.id.counter)", name: e.name, lamport: e.lamport, coalesce: e.coalesce)
        } catch let e as StateError {
            throw StateHTTP.mapState(e)
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
    }

    router.post("/v1/query/{name}") { request, context -> Response in
        let name = context.parameters.get("name") ?? ""
        let q = request.uri.queryParameters
        var timeout = Duration.seconds(5)
        if let t = q.get("timeout") {
            guard let d = StateHTTP.duration(t) else {
                throw HTTPError(.badRequest, message: "timeout must be like 500ms, 2s or 1m (got '\(t)')")
            }
            timeout = d
        }
        var tags: [String: String] = [:]
        for t in try tagFilters(q.getAll("tag")) { tags[t.key] = t.value }
        let names = q.getAll("node").map { String($0) }
        let payload = try await StateHTTP.body(request, limit: settings.maxEventPayloadBytes)
        let responses: AsyncStream<QueryResponse>
        do {
            (_, responses) = try await node.query(
                name, payload: payload, filter: QueryFilter(names: names, tags: tags), timeout: timeout)
        } catch let e as StateError {
            throw StateHTTP.mapState(e)
        }
        // Answers stream as they arrive: one JSON object per line, then a summary line.
        let body = ResponseBody { writer in
            var count = 0
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for await r in responses {
                count += 1
                let answer = QueryAnswerJSON(
                    from: r.name, id: r.from.description, payload: Data(r.payload).base64EncodedString(),
                    text: String(validating: r.payload, as: UTF8.self))
                var line = (try? encoder.encode(answer)) ?? Data("{}".utf8)
                line.append(0x0A)
                try await writer.write(ByteBuffer(bytes: line))
            }
            try await writer.write(ByteBuffer(string: "{\"done\":true,\"answers\":\(count)}\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

}

/// The durable event log from an offset, then live (SSE).
func addLogRoute(to router: Router<BasicRequestContext>, node: ColonyNode) {
    router.get("/v1/log") { request, _ -> Response in
        var from: Int64 = 1
        if let f = request.uri.queryParameters.get("from") {
            guard let v = Int64(f), v >= 0 else {
                throw HTTPError(.badRequest, message: "from must be a log offset ≥ 0 (got '\(f)')")
            }
            from = max(1, v)
        }
        let start = from
        let entries = node.log(from: start)
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": colony event log from \(start)\n\n"))
            do {
                for try await e in entries {
                    try await writer.write(ByteBuffer(string: LogJSON.sse(e)))
                }
            } catch {
                try await writer.write(ByteBuffer(string: "event: error\ndata: \(LogJSON.quote("\(error)"))\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

/// The size of the replicated state here and the newest log offset.
struct StateJSON: ResponseCodable {
    var keys: Int
    var tombstones: Int
    var records: Int
    var bytes: Int
    /// Equal on nodes holding the same records.
    var digest: String
    var logOffset: Int64
}

struct QueryAnswerJSON: Codable {
    var from: String
    var id: String
    var payload: String
    var text: String?
}

/// Log entries as JSON: `{"offset", "atMs", "kind", "subject", "info", …}` plus what the
/// entry carries (a member, a record or an event).
enum LogJSON {
    static func quote(_ s: String) -> String {
        let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func json(_ e: LogEntry) -> String {
        var fields = [
            "\"offset\":\(e.offset)", "\"atMs\":\(e.record.atMs)", "\"kind\":\(quote(e.record.kind.rawValue))",
            "\"subject\":\(quote(e.record.subject))", "\"info\":\(e.record.info.isEmpty ? "{}" : e.record.info)",
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        switch e.update {
        case .alive(let m):
            if let d = try? encoder.encode(MemberJSON(m)) {
                fields.append("\"member\":" + String(decoding: d, as: UTF8.self))
            }
        case .record(let r):
            if let d = try? encoder.encode(SiblingJSON(r)) {
                fields.append("\"record\":" + String(decoding: d, as: UTF8.self))
            }
        case .event(let ev):
            let payload = quote(Data(ev.payload).base64EncodedString())
            let text = String(validating: ev.payload, as: UTF8.self).map(quote) ?? "null"
            fields.append(
                "\"event\":{\"name\":\(quote(ev.name)),\"lamport\":\(ev.lamport),"
                    + "\"payload\":\(payload),\"text\":\(text)}")
        default:
            break
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func sse(_ e: LogEntry) -> String {
        "id: \(e.offset)\nevent: \(e.record.kind.rawValue)\ndata: \(json(e))\n\n"
    }
}
