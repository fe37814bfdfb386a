import ColonyCore
import ColonyStore
import ColonyTrust
import Crypto
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// UDP and TCP: sending datagrams and frames, opening streams, and the channel handlers that
/// feed what arrives to the driver.
extension Driver {
    // MARK: Sockets

    func sendDatagram(_ bytes: [UInt8], to address: Address) {
        guard let udp, let sa = try? address.socketAddress() else { return }
        counters.datagramsOut += 1
        counters.bytesOut += bytes.count
        metricPacketsOut[.datagram]?.increment()
        metricBytesOut.increment(by: bytes.count)
        let envelope = AddressedEnvelope(remoteAddress: sa, data: ByteBuffer(bytes: bytes))
        udp.writeAndFlush(envelope, promise: nil)
    }

    func sendFrame(_ bytes: [UInt8], to address: Address) {
        counters.framesOut += 1
        counters.bytesOut += bytes.count
        metricPacketsOut[.stream]?.increment()
        metricBytesOut.increment(by: bytes.count)
        if let channel = streams[address], channel.isActive {
            // Unwritable: its peer left `maxQueuedStreamBytes` unread. Drop rather than queue.
            guard channel.isWritable else {
                counters.framesDroppedUnread += 1
                return
            }
            var buffer = channel.allocator.buffer(capacity: bytes.count + 4)
            buffer.writeFrame(bytes)
            channel.writeAndFlush(buffer, promise: nil)
            return
        }
        if let pending = connecting[address] {
            // Still connecting (a peer that never accepts takes up to the connect timeout):
            // what waits is held to the same cap as an open stream's unread bytes.
            guard pending.reduce(bytes.count, { $0 + $1.count }) <= configuration.maxQueuedStreamBytes else {
                counters.framesDroppedUnread += 1
                return
            }
            connecting[address]!.append(bytes)
            return
        }
        guard let sa = try? address.socketAddress() else { return }
        connecting[address] = [bytes]
        let timeout = configuration.connectTimeout ?? min(configuration.settings.streamTimeout, .seconds(5))
        let connectTimeout = TimeAmount.nanoseconds(timeout.nanosecondsInt64)
        ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: streamWaterMark)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.installStreamHandlers(on: channel, key: address) }
            }
            .connect(to: sa)
            .whenComplete { [self] result in
                let pending = connecting.removeValue(forKey: address) ?? []
                switch result {
                case .success(let channel):
                    streams[address] = channel
                    var buffer = channel.allocator.buffer(capacity: 256)
                    for frame in pending { buffer.writeFrame(frame) }
                    channel.writeAndFlush(buffer, promise: nil)
                case .failure(let error):
                    counters.streamConnectFailures += 1
                    logger.debug(
                        "stream connect failed", metadata: ["colony.peer": "\(address)", "colony.error": "\(error)"])
                    if var core {
                        let effects = core.streamFailed(to: address, refused: Self.isRefused(error), now: now())
                        self.core = core
                        handle(effects)
                    }
                }
            }
    }

    /// ECONNREFUSED: the host answered, nothing listens there.
    static func isRefused(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let c = error as? NIOConnectionError {
            return !c.connectionErrors.isEmpty && c.connectionErrors.allSatisfy { isRefused($0.error) }
        }
        return false
    }

    /// Unwritable past `maxQueuedStreamBytes` queued, writable again below half of it.
    var streamWaterMark: ChannelOptions.Types.WriteBufferWaterMark {
        let high = max(2, configuration.maxQueuedStreamBytes)
        return .init(low: high / 2, high: high)
    }

    /// An inbound connection within the caps (in all, and from its host) is counted until it
    /// closes; one beyond them is refused.
    func admitInboundStream(_ channel: any Channel) -> Bool {
        let host = channel.remoteAddress?.ipAddress ?? "?"
        guard inboundStreams.values.reduce(0, +) < configuration.maxInboundStreams,
            inboundStreams[host, default: 0] < configuration.maxInboundStreamsPerHost
        else {
            counters.streamsRefused += 1
            return false
        }
        inboundStreams[host, default: 0] += 1
        channel.closeFuture.whenComplete { [self] _ in
            inboundStreams[host, default: 1] -= 1
            if inboundStreams[host] == 0 { inboundStreams[host] = nil }
        }
        return true
    }

    func installStreamHandlers(on channel: any Channel, key: Address?) throws {
        let ops = channel.pipeline.syncOperations
        try ops.addHandler(IdleStateHandler(allTimeout: .seconds(30)))
        try ops.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: configuration.maxFrameBytes)))
        try ops.addHandler(StreamHandler(driver: self, key: key))
    }

    func streamOpened(_ channel: any Channel, key: Address) {
        if streams[key] == nil { streams[key] = channel }
    }

    func streamClosed(_ channel: any Channel, key: Address) {
        if let c = streams[key], c === channel { streams[key] = nil }
    }

    func frameRefused(_ error: any Error, from key: Address?) {
        counters.framesRefused += 1
        metricMalformed.increment()
        logger.debug(
            "refused stream frame",
            metadata: ["colony.peer": "\(key.map { "\($0)" } ?? "?")", "colony.error": "\(error)"])
    }
}

/// UDP: every datagram goes to the driver with its source address.
final class DatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let driver: Driver

    init(driver: Driver) { self.driver = driver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let from = Address(envelope.remoteAddress) else { return }
        var buffer = envelope.data
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        driver.onDatagram(bytes, from: from)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP unreachable and the like: nothing to do; the protocol copes with loss.
    }
}

/// TCP: frames go to the driver keyed by the connection's remote address (inbound) or the
/// peer's listen address (outbound).
final class StreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let driver: Driver
    var key: Address?

    init(driver: Driver, key: Address?) {
        self.driver = driver
        self.key = key
    }

    func channelActive(context: ChannelHandlerContext) {
        if key == nil { key = Address(context.channel.remoteAddress) }
        if let key { driver.streamOpened(context.channel, key: key) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let key else { return }
        driver.onFrame(frame.readBytes(length: frame.readableBytes) ?? [], from: key)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let key { driver.streamClosed(context.channel, key: key) }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        driver.frameRefused(error, from: key)
        context.close(promise: nil)
    }
}
