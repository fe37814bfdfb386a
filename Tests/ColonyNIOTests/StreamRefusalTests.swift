import ColonyCore
import Glibc
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ColonyNIO

/// Issue 17 asked whether a reset on a reused connection can pass for a refused port (which
/// declares a probed member dead at once). It cannot: only a connect that fails with
/// ECONNREFUSED counts as refused; a reset, a timeout or an unreachable host on an open
/// connection or a connect is a plain failure (the probe just goes on).
@Suite(.tags(.loopback)) struct StreamRefusalTests {
    @Test func onlyARefusedConnectCountsAsRefused() {
        #expect(Driver.isRefused(IOError(errnoCode: ECONNREFUSED, reason: "connect")))
        for errno in [ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, EPIPE] {
            #expect(!Driver.isRefused(IOError(errnoCode: errno, reason: "write")), "errno \(errno)")
        }
        #expect(!Driver.isRefused(ChannelError.connectTimeout(.seconds(5))))
        #expect(!Driver.isRefused(ChannelError.ioOnClosedChannel))
    }

    /// A real connect to a loopback port nobody listens on is refused, as the driver sees it.
    @Test func aClosedLoopbackPortIsRefused() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        // Bind and close a listener to get a port that is free now.
        let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        try await listener.close()
        do {
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await channel.close()
            Issue.record("a connect to a closed port succeeded")
        } catch {
            #expect(Driver.isRefused(error), "\(error)")
        }
    }
}

/// Issue 18: every connection has a limit. Beyond the per-host cap a new inbound stream is
/// closed at once and counted; those within it stay open.
@Suite(.tags(.loopback, .hostile)) struct StreamLimitTests {
    @Test func inboundStreamsFromOneHostAreCapped() async throws {
        var config = ColonyNode.Configuration(
            name: "capped", bind: Address(host: "127.0.0.1", port: 0), settings: .local)
        config.maxInboundStreamsPerHost = 3
        let node = ColonyNode(configuration: config, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let address = try await node.start()
        let group = MultiThreadedEventLoopGroup.singleton
        var channels: [any Channel] = []
        for _ in 0..<6 {
            channels.append(
                try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: Int(address.port)).get())
        }
        // The refused ones are closed by the node: wait until it has seen all six.
        for _ in 0..<100 where await node.statistics().driver.streamsRefused < 3 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await node.statistics().driver.streamsRefused == 3)
        try await Task.sleep(for: .milliseconds(100))
        #expect(channels.filter(\.isActive).count == 3, "three stay open")
        for c in channels { try? await c.close() }
        // Closed ones free their places.
        for _ in 0..<100 {
            let c = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: Int(address.port)).get()
            try await Task.sleep(for: .milliseconds(50))
            let open = c.isActive
            try? await c.close()
            if open { break }
        }
        #expect(await node.statistics().driver.streamsRefused <= 4, "a place freed is taken again")
        await node.stop()
    }
}

/// Issue 18: writes have back-pressure. A peer that accepts a stream and never reads cannot
/// grow the node's memory: past `maxQueuedStreamBytes` unread, frames to it are dropped and
/// counted, while it is connecting and once connected.
@Suite(.tags(.loopback, .hostile)) struct WriteBackPressureTests {
    @Test func framesToAPeerThatNeverReadsAreDroppedNotQueued() async throws {
        let cap = 256 << 10
        var config = ColonyNode.Configuration(
            name: "writer", bind: Address(host: "127.0.0.1", port: 0), settings: .local)
        config.maxQueuedStreamBytes = cap
        let node = ColonyNode(configuration: config, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        _ = try await node.start()
        // A peer that accepts and never reads, with a small receive buffer.
        let sink = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.so_rcvbuf), value: 4096)
            .bind(host: "127.0.0.1", port: 0).get()
        let target = Address(host: "127.0.0.1", port: UInt16(try #require(sink.localAddress?.port)))
        let frame = [UInt8](repeating: 0xAB, count: 64 << 10)
        // While connecting: more than the cap is offered at once.
        try await node.driver.onLoop { d in for _ in 0..<16 { d.sendFrame(frame, to: target) } }
        let droppedConnecting = await node.statistics().driver.framesDroppedUnread
        #expect(droppedConnecting > 0, "1 MiB offered while connecting, with a 256 KiB cap")
        for _ in 0..<100 where try await node.driver.onLoop({ $0.streams[target] == nil }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Connected: 32 MiB more, of which the peer reads nothing.
        for _ in 0..<512 {
            try await node.driver.onLoop { d in d.sendFrame(frame, to: target) }
        }
        let channel = try #require(try await node.driver.onLoop { $0.streams[target] })
        let queued = try await channel.getOption(.bufferedWritableBytes).get()
        #expect(queued <= cap + frame.count + 4, "queued \(queued) bytes for a peer that reads nothing")
        #expect(await node.statistics().driver.framesDroppedUnread > droppedConnecting + 400)
        await node.stop()
        try await sink.close()
    }
}
