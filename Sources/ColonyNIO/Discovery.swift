import ColonyCore
import Foundation
import Logging
import NIOCore
import NIOPosix

/// LAN discovery by UDP multicast: a booting node announces itself to a group for a while,
/// and every node listening on the group joins an announcer of the same cluster that it does
/// not know yet (the join's state exchange then teaches both sides everything).
public struct MulticastDiscovery: Sendable, Equatable {
    /// Only nodes announcing the same cluster name find each other.
    public var cluster: String
    /// Multicast group and port. Default 239.255.79.46:7945 (organisation-local scope).
    public var group: Address
    /// Time between announcements while booting. Default 2 s.
    public var announceInterval: Duration = .seconds(2)
    /// How long a booting node keeps announcing. Default 30 s.
    public var announceFor: Duration = .seconds(30)

    public init(cluster: String, group: Address = Address(host: "239.255.79.46", port: 7945)) {
        self.cluster = cluster
        self.group = group
    }

    /// `COLONY1 <cluster> <node id> <host> <port>`: one line, so it is easy to see on the wire.
    static func announcement(cluster: String, id: NodeID, address: Address) -> String {
        "COLONY1 \(cluster) \(id) \(address.host) \(address.port)\n"
    }

    static func parse(_ text: String) -> (cluster: String, id: NodeID, address: Address)? {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        guard parts.count == 5, parts[0] == "COLONY1", let id = NodeID(hex: parts[2]),
            let port = UInt16(parts[4]), port > 0
        else { return nil }
        let address = Address(host: parts[3], port: port)
        guard address.isIPLiteral else { return nil }
        return (parts[1], id, address)
    }
}

extension Driver {
    func startDiscovery(_ d: MulticastDiscovery, me: Member) async throws -> any Channel {
        let groupAddress = try d.group.socketAddress()
        let channel = try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DiscoveryHandler(driver: self, cluster: d.cluster, selfID: me.id))
                }
            }
            .bind(host: groupAddress.protocol == .inet6 ? "::" : "0.0.0.0", port: Int(d.group.port)).get()
        guard let multicast = channel as? any MulticastChannel else {
            try? await channel.close()
            throw ColonyError.needAdvertiseAddress("multicast is not supported on this channel")
        }
        try await multicast.joinGroup(groupAddress).get()
        let line = MulticastDiscovery.announcement(cluster: d.cluster, id: me.id, address: me.address)
        let rounds = max(1, Int(d.announceFor.nanosecondsInt64 / max(1, d.announceInterval.nanosecondsInt64)))
        let interval = TimeAmount.nanoseconds(d.announceInterval.nanosecondsInt64)
        try await onLoop { driver in
            var sent = 0
            driver.discoveryTask = driver.loop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { task in
                sent += 1
                if sent > rounds || driver.core == nil {
                    task.cancel()
                    return
                }
                channel.writeAndFlush(
                    AddressedEnvelope(remoteAddress: groupAddress, data: ByteBuffer(string: line)), promise: nil)
            }
        }
        logger.info(
            "multicast discovery on", metadata: ["colony.group": "\(d.group)", "colony.cluster": "\(d.cluster)"])
        return channel
    }

    /// An announcement arrived: join its sender if it is new to us (rate-limited per sender).
    func onAnnouncement(id: NodeID, address: Address) {
        guard var core else { return }
        if core.member(id)?.status.isLive == true { return }
        let now = self.now()
        if let last = discoveryAttempts[id], now.nanoseconds(since: last) < 5_000_000_000 { return }
        if discoveryAttempts.count > 1024 { discoveryAttempts.removeAll() }
        discoveryAttempts[id] = now
        counters.discovered += 1
        logger.info("discovered a peer by multicast", metadata: ["colony.peer": "\(address)"])
        let effects = core.join(seeds: [address], now: now)
        self.core = core
        handle(effects)
    }
}

final class DiscoveryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let driver: Driver
    let cluster: String
    let selfID: NodeID

    init(driver: Driver, cluster: String, selfID: NodeID) {
        self.driver = driver
        self.cluster = cluster
        self.selfID = selfID
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.data.readableBytes <= 512,
            let text = envelope.data.getString(at: envelope.data.readerIndex, length: envelope.data.readableBytes),
            let a = MulticastDiscovery.parse(text), a.cluster == cluster, a.id != selfID
        else { return }
        driver.onAnnouncement(id: a.id, address: a.address)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
