import Glibc
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
