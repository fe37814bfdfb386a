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
