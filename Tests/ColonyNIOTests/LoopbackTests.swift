import ColonyCore
import ColonyNIO
import ColonyTrust
import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Keeps log lines so a test can look for one; prints nothing.
final class CapturedLogs: @unchecked Sendable {
    let lines = NIOLockedValueBox<[String]>([])
    var all: [String] { lines.withLockedValue { $0 } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let text =
                "\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            sink.lines.withLockedValue { $0.append(text) }
        }
    }
}

func eventually(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// Start `nodes` and join them all through the first; their addresses.
@discardableResult
func startSwarm(_ nodes: [ColonyNode]) async throws -> [Address] {
    var addresses: [Address] = []
    for x in nodes { addresses.append(try await x.start()) }
    for x in nodes.dropFirst() { try await x.join(seeds: ["\(addresses[0])"]) }
    return addresses
}

/// True if every node sees exactly `count` members alive.
func allSee(_ nodes: [ColonyNode], alive count: Int) async -> Bool {
    for x in nodes where await x.members(status: .alive).count != count { return false }
    return true
}

@Suite(.serialized, .tags(.loopback)) struct LoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()

    func node(_ name: String, dataDirectory: String? = nil) -> ColonyNode {
        let c = ColonyNode.Configuration(
            name: name, bind: Address(host: "127.0.0.1", port: 0), settings: .local, dataDirectory: dataDirectory)
        return ColonyNode(configuration: c, logger: logs.logger(name), eventLoopGroup: group)
    }

    /// Start `n` nodes and join them all through the first.
    func swarm(_ n: Int) async throws -> ([ColonyNode], [Address]) {
        let nodes = (0..<n).map { node("n\($0)") }
        return (nodes, try await startSwarm(nodes))
    }

    @Test func fiveNodesConverge() async throws {
        let (nodes, _) = try await swarm(5)
        let converged = await eventually(10) { await allSee(nodes, alive: 5) }
        #expect(converged, "five nodes on loopback must all see five alive")
        for x in nodes { await x.stop() }
    }

    @Test func stoppedNodeIsMarkedDeadEverywhere() async throws {
        let (nodes, _) = try await swarm(5)
        #expect(await eventually(10) { await allSee(nodes, alive: 5) })
        let victim = try #require(await nodes[4].me())
        await nodes[4].stop()
        let survivors = Array(nodes.prefix(4))
        // local profile: min suspicion 3 s, max 18 s.
        let detected = await eventually(25) {
            for x in survivors where await x.members(status: .dead).map(\.id) != [victim.id] { return false }
            return true
        }
        #expect(detected)
        for x in survivors { await x.stop() }
    }

    @Test func gracefulLeaveIsSeenAsLeft() async throws {
        let (nodes, _) = try await swarm(4)
        #expect(await eventually(10) { await allSee(nodes, alive: 4) })
        let leaver = try #require(await nodes[3].me())
        try await nodes[3].leave()
        await nodes[3].stop()
        let seen = await eventually(5) {
            for x in nodes.prefix(3) where await x.members(status: .left).map(\.id) != [leaver.id] { return false }
            return true
        }
        #expect(seen)
        for x in nodes.prefix(3) { await x.stop() }
    }

    @Test func restartWithSameDataDirectoryRejoinsWithHigherIncarnation() async throws {
        let dir = NSTemporaryDirectory() + "colony-nio-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seed = node("seed")
        let seedAddress = try await seed.start()
        let first = node("durable", dataDirectory: dir)
        try await first.start()
        try await first.join(seeds: ["\(seedAddress)"])
        let before = try #require(await first.me())
        #expect(await eventually(5) { await seed.members(status: .alive).count == 2 })
        await first.stop()
        // Restart on a new port, same identity; rejoin through remembered peers (no seeds).
        let second = node("durable", dataDirectory: dir)
        try await second.start()
        let after = try #require(await second.me())
        #expect(after.id == before.id)
        #expect(after.incarnation > before.incarnation)
        try await second.join(seeds: [])
        let rejoined = await eventually(10) {
            await seed.members(status: .alive).first { $0.id == before.id }?.incarnation ?? 0 >= after.incarnation
        }
        #expect(rejoined)
        await second.stop()
        await seed.stop()
    }

    @Test func garbageAndOversizedInputIsCountedAndHarmless() async throws {
        let (nodes, addresses) = try await swarm(3)
        #expect(await eventually(10) { await allSee(nodes, alive: 3) })
        let target = try SocketAddress(ipAddress: addresses[0].host, port: Int(addresses[0].port))
        // Garbage datagrams.
        let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<200 {
            let bytes = (0..<(1 + i % 97)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
        }
        // An oversized frame and a truncated one over TCP.
        for payload: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xF0, 1, 2, 3], [0, 0, 0, 50, 1, 2, 3]] {
            let c = try await ClientBootstrap(group: group).connect(to: target).get()
            try await c.writeAndFlush(ByteBuffer(bytes: payload))
            try? await c.close()
        }
        let counted = await eventually(5) {
            let s = await nodes[0].statistics().driver
            // Random bytes are refused before decoding: not authenticated to any sender.
            return s.refused["unauthenticated", default: 0] >= 150 && s.framesRefused >= 2
        }
        #expect(counted)
        // Still healthy: everyone alive, and the node still answers.
        try await Task.sleep(for: .seconds(2))
        #expect(await allSee(nodes, alive: 3))
        // Honest members' packets all verify: the nodes that got no garbage refused nothing.
        for x in nodes.dropFirst() { #expect(await x.statistics().driver.refusedTotal == 0) }
        try await sender.close()
        for x in nodes { await x.stop() }
    }

    @Test func ipv6NodesConverge() async throws {
        var nodes: [ColonyNode] = []
        var seed: Address?
        for i in 0..<3 {
            let x = ColonyNode(
                configuration: .init(name: "v6-\(i)", bind: Address(host: "::1", port: 0), settings: .local),
                logger: logs.logger("v6"), eventLoopGroup: group)
            let a = try await x.start()
            if let seed { try await x.join(seeds: ["[\(seed.host)]:\(seed.port)"]) } else { seed = a }
            nodes.append(x)
        }
        #expect(await eventually(10) { await allSee(nodes, alive: 3) })
        #expect(await nodes[1].members().allSatisfy { $0.address.host == "::1" })
        for x in nodes { await x.stop() }
    }

    @Test func aSecondNodeOnATakenPortFailsToStart() async throws {
        let first = node("first")
        let address = try await first.start()
        let second = ColonyNode(
            configuration: .init(name: "second", bind: address, settings: .local), logger: logs.logger("second"),
            eventLoopGroup: group)
        await #expect(throws: (any Error).self) { try await second.start() }
        await first.stop()
    }

    /// A peer speaking another wire version: the test crafts its packets itself (a ping the
    /// seed would answer, with the first byte changed) and sends them from a raw socket.
    @Test func wrongProtocolVersionIsRefusedWithAClearLogLine() async throws {
        let seed = node("seed")
        let seedAddress = try await seed.start()
        let seedID = try #require(await seed.me()).id
        let target = try SocketAddress(ipAddress: seedAddress.host, port: Int(seedAddress.port))
        let inbox = DatagramInbox()
        let stranger = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(inbox) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        // The stranger has an identity of its own and signs its packets, as every node does.
        var auth = PacketAuthentication(identity: Curve25519.Signing.PrivateKey())
        let strangerID = auth.id
        func ping(_ seq: UInt32, version: UInt8) async throws {
            var bytes = Wire.encode(Packet(from: strangerID, message: .ping(seq: seq, target: seedID)))
            bytes[0] = version
            bytes = auth.wrap(bytes, to: nil)
            try await stranger.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
        }
        // The same ping in this build's version is answered: the raw socket hears the seed.
        try await ping(1, version: Wire.version)
        #expect(await eventually(5) { inbox.count > 0 })
        let answered = inbox.count
        // In another version it is refused, counted, logged, and never answered.
        try await ping(2, version: 9)
        #expect(await eventually(5) { await seed.statistics().driver.wrongVersion >= 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(inbox.count == answered, "a packet in another wire version gets no answer")
        let stats = await seed.statistics().driver
        #expect(stats.wrongVersion >= 1)
        #expect(
            logs.all.contains { $0.contains("another wire protocol version") && $0.contains("colony.peerVersion=9") })
        #expect(await seed.members().count == 1)
        try await stranger.close()
        await seed.stop()
    }

    /// Issue 18: every packet is authenticated to its sender. A plain packet, and one signed by
    /// one identity while claiming another's, get no answer and blame nobody; the same ping
    /// signed by the identity it names is answered.
    @Test func packetsNotAuthenticatedToTheirSenderGetNoAnswer() async throws {
        let seed = node("seed")
        let seedAddress = try await seed.start()
        let seedID = try #require(await seed.me()).id
        let target = try SocketAddress(ipAddress: seedAddress.host, port: Int(seedAddress.port))
        let inbox = DatagramInbox()
        let stranger = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(inbox) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var mallory = PacketAuthentication(identity: Curve25519.Signing.PrivateKey())
        let victim = PacketAuthentication(identity: Curve25519.Signing.PrivateKey())
        func send(_ bytes: [UInt8]) async throws {
            try await stranger.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: bytes)))
        }
        // Plain: refused by the gate.
        try await send(Wire.encode(Packet(from: mallory.id, message: .ping(seq: 1, target: seedID))))
        #expect(await eventually(5) { await seed.statistics().driver.refused["unauthenticated", default: 0] >= 1 })
        // Signed by Mallory, claiming the victim's id: refused by the core, nobody blamed.
        try await send(
            mallory.wrap(Wire.encode(Packet(from: victim.id, message: .ping(seq: 2, target: seedID))), to: nil))
        #expect(await eventually(5) { await seed.statistics().core.trust.unauthenticated >= 1 })
        try await Task.sleep(for: .seconds(1))
        #expect(inbox.count == 0, "neither was answered")
        // Signed by the identity it names: answered, and the answer is MACed to Mallory.
        try await send(
            mallory.wrap(Wire.encode(Packet(from: mallory.id, message: .ping(seq: 3, target: seedID))), to: nil))
        #expect(await eventually(5) { inbox.count > 0 })
        let answer = try #require(inbox.first)
        #expect(WireNamespace(first: answer) == .authenticated)
        let opened = try mallory.unwrap(answer, nowMs: 0).get()
        #expect(opened.sender == seedID)
        if case .ack(let seq, _) = try Wire.decode(opened.packet).message {
            #expect(seq == 3)
        } else {
            Issue.record("the answer is not an ack")
        }
        let trust = await seed.statistics().core.trust
        #expect(trust.offences == 0, "nobody was blamed")
        try await stranger.close()
        await seed.stop()
    }
}

/// Counts the datagrams a raw test socket receives.
final class DatagramInbox: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let received = NIOLockedValueBox<[[UInt8]]>([])
    var count: Int { received.withLockedValue { $0.count } }
    var first: [UInt8]? { received.withLockedValue { $0.first } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        received.withLockedValue { $0.append(Array(envelope.data.readableBytesView)) }
    }
}

@Suite(.tags(.configuration)) struct AddressParsingTests {
    @Test func parsesHostPortForms() throws {
        #expect(try Address(parsing: "127.0.0.1:7000") == Address(host: "127.0.0.1", port: 7000))
        #expect(try Address(parsing: "[::1]:7001") == Address(host: "::1", port: 7001))
        #expect(try Address(parsing: "::1") == Address(host: "::1", port: 7946))
        #expect(try Address(parsing: "seed.example", defaultPort: 8000) == Address(host: "seed.example", port: 8000))
        for bad in ["", ":7000", "host:", "host:0", "host:70000", "[::1", "[::1]x"] {
            #expect(throws: AddressError.self) { try Address(parsing: bad) }
        }
    }

    @Test func namesResolveToEveryAddress() throws {
        let addresses = try Address(host: "localhost", port: 7946).resolved()
        #expect(!addresses.isEmpty)
        let allLiterals = addresses.allSatisfy { $0.isIPLiteral }
        #expect(allLiterals)
        #expect(throws: AddressError.self) { try Address(host: "no-such-host.invalid", port: 1).resolved() }
    }
}
