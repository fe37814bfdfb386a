import ColonyCore
import ColonyNIO
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client for talking to the local agent (request/response, and
/// streaming for Server-Sent Events).
struct AgentClient {
    let address: Address
    var token: String? = nil

    static func resolveAddress(_ flag: String?) throws -> Address {
        let text = flag ?? ProcessInfo.processInfo.environment["COLONY_HTTP_ADDR"] ?? "127.0.0.1:7950"
        var t = text
        if t.hasPrefix("http://") { t.removeFirst(7) }
        if t.hasSuffix("/") { t.removeLast() }
        return try Address(parsing: t, defaultPort: 7950)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// One request; returns the status and the whole body.
    func send(
        _ method: HTTPMethod, _ path: String, json body: [UInt8]? = nil, raw: Bool = false,
        headers extra: [(String, String)] = []
    ) async throws -> (status: Int, body: [UInt8]) {
        let collected = NIOLockedBody()
        let status = try await exchange(method, path, body: body, raw: raw, headers: extra) { chunk in
            collected.append(chunk)
        }
        return (status, collected.bytes)
    }

    /// A streaming request: `onChunk` gets the body as it arrives; returns when the server closes.
    func stream(
        _ path: String, method: HTTPMethod = .GET, body: [UInt8]? = nil, onChunk: @escaping @Sendable ([UInt8]) -> Void
    ) async throws -> Int {
        try await exchange(method, path, body: body, raw: true, headers: [], onChunk: onChunk)
    }

    private func exchange(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, raw: Bool = false, headers extra: [(String, String)] = [],
        onChunk: @escaping @Sendable ([UInt8]) -> Void
    ) async throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Int.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            ResponseHandler(promise: promise, onChunk: onChunk))
                    }
                }
                .connect(to: try SocketAddress.makeAddressResolvingHost(address.host, port: Int(address.port))).get()
        } catch {
            promise.fail(error)
            throw Failure(
                description:
                    "cannot reach the agent at http://\(address)/ (\(error)); "
                    + "is `colony agent` running? (--http or COLONY_HTTP_ADDR)"
            )
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(address)")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "\(body?.count ?? 0)")
        if body != nil {
            headers.add(name: "Content-Type", value: raw ? "application/octet-stream" : "application/json")
        }
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (k, v) in extra { headers.add(name: k, value: v) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }
}

final class NIOLockedBody: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [UInt8] = []
    func append(_ b: [UInt8]) {
        lock.lock()
        storage += b
        lock.unlock()
    }
    var bytes: [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
    func replace(with b: [UInt8]) {
        lock.lock()
        storage = b
        lock.unlock()
    }
}

final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    let promise: EventLoopPromise<Int>
    let onChunk: @Sendable ([UInt8]) -> Void
    var status = 0
    var done = false

    init(promise: EventLoopPromise<Int>, onChunk: @escaping @Sendable ([UInt8]) -> Void) {
        self.promise = promise
        self.onChunk = onChunk
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(var buffer):
            onChunk(buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .end:
            finish()
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.close(promise: nil)
    }

    private func finish() {
        guard !done else { return }
        done = true
        if status == 0 {
            promise.fail(AgentClient.Failure(description: "the agent closed the connection without answering"))
        } else {
            promise.succeed(status)
        }
    }
}
