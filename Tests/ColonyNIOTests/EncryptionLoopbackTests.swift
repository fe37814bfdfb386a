import ColonyCore
import ColonyNIO
import ColonyTrust
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// The keyring on real sockets: wrong keys keep a node out, rotation loses nothing, plain
/// swarms turn encryption on in steps, replayed packets are refused.
@Suite(.serialized, .tags(.loopback, .crypto)) struct EncryptionLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()
    /// This suite's own loopback address: the tests count every refused packet, and nodes of
    /// other suites running in parallel (with other keys) may still send to a port the kernel
    /// has since handed to a node here. Linux routes all of 127/8 to `lo`.
    static let host = "127.0.0.7"

    func node(_ name: String, keyring: Keyring?, dataDirectory: String? = nil) -> ColonyNode {
        var c = ColonyNode.Configuration(
            name: name, bind: Address(host: Self.host, port: 0), settings: .local, dataDirectory: dataDirectory)
        c.keyring = keyring
        return ColonyNode(configuration: c, logger: logs.logger(name), eventLoopGroup: group)
    }

    func swarm(_ n: Int, keyring: Keyring?) async throws -> ([ColonyNode], [Address]) {
        let nodes = (0..<n).map { node("n\($0)", keyring: keyring) }
        return (nodes, try await startSwarm(nodes))
    }

    func refused(_ nodes: [ColonyNode]) async -> [String: Int] {
        var total: [String: Int] = [:]
        for x in nodes { total.merge(await x.statistics().driver.refused) { $0 + $1 } }
        return total
    }

    @Test func sealedSwarmConvergesAndWrongKeyCannotJoin() async throws {
        let k1 = try Keyring(primaryBase64: Keyring.generateKey())
        let (nodes, addresses) = try await swarm(3, keyring: k1)
        #expect(await eventually(10) { await allSee(nodes, alive: 3) }, "three nodes sharing a key converge")

        let intruder = node("intruder", keyring: try Keyring(primaryBase64: Keyring.generateKey()))
        _ = try await intruder.start()
        await #expect(throws: ColonyError.self) { try await intruder.join(seeds: ["\(addresses[0])"]) }
        #expect(await intruder.members(status: .alive).count == 1, "the intruder learned nobody")
        #expect(await nodes[0].members().count == 3, "the seed never admitted the intruder")
        let counts = await refused(nodes)
        #expect((counts["unsealable"] ?? 0) > 0, "the intruder's packets are counted as unsealable: \(counts)")

        let plain = node("plain", keyring: nil)
        _ = try await plain.start()
        await #expect(throws: ColonyError.self) { try await plain.join(seeds: ["\(addresses[0])"]) }
        #expect((await refused(nodes)["plain"] ?? 0) > 0, "plain packets are refused when sealing is required")
        for x in nodes + [intruder, plain] { await x.stop() }
    }

    /// install → use → remove on a live 5-node swarm while events flow: every event reaches
    /// every node and no packet is refused.
    @Test func rotationOnALiveSwarmLosesNothing() async throws {
        let k1 = try Keyring(primaryBase64: Keyring.generateKey())
        let k2 = Keyring.generateKey()
        let (nodes, _) = try await swarm(5, keyring: k1)
        #expect(await eventually(10) { await allSee(nodes, alive: 5) })
        let received = nodes.map { _ in IDSet() }
        var listeners: [Task<Void, Never>] = []
        for (i, x) in nodes.enumerated() {
            let stream = x.events
            listeners.append(
                Task {
                    for await e in stream {
                        if case .userEvent(let ev, _) = e, ev.name == "tick" { received[i].insert(ev.id) }
                    }
                })
        }
        let sent = IDSet()
        let sender = Task {
            var i = 0
            while !Task.isCancelled {
                if let e = try? await nodes[i % 5].event("tick", payload: Array("\(i)".utf8)) { sent.insert(e.id) }
                i += 1
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let installed = try await nodes[1].changeKeyring(.install(try Keyring.decode(k2)))
        #expect(installed.complete && installed.keys[k2] == 5, "install reached all five: \(installed)")
        try await Task.sleep(for: .milliseconds(300))
        let used = try await nodes[2].changeKeyring(.use(try Keyring.decode(k2)))
        #expect(used.complete && used.primaryKeys[k2] == 5, "use reached all five: \(used)")
        try await Task.sleep(for: .milliseconds(300))
        let removed = try await nodes[3].changeKeyring(.remove(k1.primary))
        #expect(removed.complete && removed.keys.keys.sorted() == [k2], "remove reached all five: \(removed)")
        try await Task.sleep(for: .milliseconds(300))
        // More than 20 events in all (each returns once durable: on a loaded machine, fsync
        // makes them slower than the sender's 20 ms pace, so wait for the count, not a time).
        let enough = await eventually(20) { sent.all.count > 20 }
        sender.cancel()
        _ = await sender.value
        let all = sent.all
        #expect(enough, "only \(all.count) events were sent")
        let delivered = await eventually(15) { received.allSatisfy { all.isSubset(of: $0.all) } }
        #expect(delivered, "every node got all \(all.count) events: \(received.map { $0.all.intersection(all).count })")
        for l in listeners { l.cancel() }
        let refusals = await refused(nodes)
        #expect(refusals.isEmpty, "no packet refused during rotation: \(refusals)")
        for x in nodes { #expect(await x.keyring().keys == [k2]) }
        #expect(await allSee(nodes, alive: 5))
        for x in nodes { await x.stop() }
    }

    /// A plain swarm turns encryption on without a restart: keys installed locally
    /// (`open`), then `accept`, then `require`; membership holds throughout.
    @Test func plainSwarmTurnsEncryptionOnInSteps() async throws {
        let (nodes, _) = try await swarm(3, keyring: nil)
        #expect(await eventually(10) { await allSee(nodes, alive: 3) })
        let key = try Keyring.decode(Keyring.generateKey())
        for x in nodes { try await x.changeKeyringLocally(.install(key)) }
        #expect(await nodes[0].keyring().mode == "open")
        // Keys never travel in the clear: a node that does not seal yet refuses to send them,
        // and the reserved query name cannot be used to get round that.
        await #expect(throws: KeyringError.notSealing) {
            try await nodes[0].changeKeyring(.install(try Keyring.decode(Keyring.generateKey())))
        }
        await #expect(throws: KeyringError.notSealing) { try await nodes[0].changeKeyring(.list) }
        await #expect(throws: StateError.self) { try await nodes[0].query(KeyringOperation.queryName, payload: []) }
        let accept = try await nodes[0].changeKeyring(.mode(.accept))
        #expect(accept.complete && accept.modes["accept"] == 3, "\(accept)")
        // Members answering from `open` mode name their keys by fingerprint only (the first
        // answer may come from one already sealing, which names the key).
        let fingerprint = KeyringState.fingerprint(Data(key).base64EncodedString())
        #expect(
            accept.keys.keys.allSatisfy { $0 == fingerprint || $0 == Data(key).base64EncodedString() }, "\(accept.keys)"
        )
        try await Task.sleep(for: .seconds(1))
        let require = try await nodes[0].changeKeyring(.mode(.require))
        #expect(require.complete && require.modes["require"] == 3, "\(require)")
        try await Task.sleep(for: .seconds(2))
        #expect(await allSee(nodes, alive: 3), "membership held while encryption was turned on")
        let refusals = await refused(nodes)
        #expect(refusals.isEmpty, "nothing refused along the way: \(refusals)")
        let stats = await nodes[1].statistics()
        #expect(stats.driver.datagramsIn > 0)
        for x in nodes { await x.stop() }
    }

    /// A sealed datagram sent twice: the copy is refused as a replay; one sealed an hour ago
    /// as stale; one with a flipped bit as unsealable.
    @Test func replayedStaleAndAlteredPacketsAreRefused() async throws {
        let ring = try Keyring(primaryBase64: Keyring.generateKey())
        let target = node("target", keyring: ring)
        let address = try await target.start()
        let packet = Wire.encode(Packet(from: NodeID(high: 7, low: 7), message: .gossip))
        let nowMs = UInt64(Date().timeIntervalSince1970 * 1000)
        let sealed = Envelope.seal(packet, key: ring.primary, sentAtMs: nowMs)
        var altered = sealed
        altered[altered.count / 2] ^= 0x40
        let old = Envelope.seal(packet, key: ring.primary, sentAtMs: nowMs - 3_600_000)
        let udp = try await DatagramBootstrap(group: group).bind(host: Self.host, port: 0).get()
        let to = try SocketAddress(ipAddress: Self.host, port: Int(address.port))
        for bytes in [sealed, sealed, altered, old] {
            try await udp.writeAndFlush(AddressedEnvelope(remoteAddress: to, data: ByteBuffer(bytes: bytes)))
        }
        let counted = await eventually(5) {
            let r = await target.statistics().driver.refused
            return r["replayed"] == 1 && r["unsealable"] == 1 && r["stale"] == 1
        }
        let refusals = await target.statistics().driver.refused
        #expect(counted, "\(refusals)")
        #expect(await target.statistics().driver.malformedTotal == 0, "the first copy opened and decoded")
        try await udp.close()
        await target.stop()
    }

    /// The keyring persists in the data directory and wins over the configured key after a
    /// restart (a node that took part in a rotation keeps the new key).
    @Test func keyringPersistsAcrossRestarts() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-keyring-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let k1 = try Keyring(primaryBase64: Keyring.generateKey())
        let k2 = try Keyring.decode(Keyring.generateKey())
        let a = node("a", keyring: k1, dataDirectory: dir)
        _ = try await a.start()
        try await a.changeKeyringLocally(.install(k2))
        try await a.changeKeyringLocally(.use(k2))
        try await a.changeKeyringLocally(.remove(k1.primary))
        await a.stop()
        let attrs = try FileManager.default.attributesOfItem(atPath: Keyring.fileURL(directory: dir).path)
        #expect((attrs[.posixPermissions] as? Int) == 0o600, "the keyring file is owner-only")
        let again = node("a", keyring: k1, dataDirectory: dir)
        _ = try await again.start()
        let state = await again.keyring()
        #expect(state.primary == Data(k2).base64EncodedString(), "the saved primary wins")
        #expect(state.keys.count == 2, "the configured (old) key is installed as a secondary")
        await again.stop()
    }
}

final class IDSet: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: Set<Dot> = []
    func insert(_ id: Dot) {
        lock.lock()
        ids.insert(id)
        lock.unlock()
    }
    var all: Set<Dot> {
        lock.lock()
        defer { lock.unlock() }
        return ids
    }
}
