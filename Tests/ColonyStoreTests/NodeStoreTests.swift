import ColonyCore
import ColonyStore
import Foundation
import Testing

@Suite(.tags(.storage)) struct NodeStoreTests {
    func tempDir() -> String {
        NSTemporaryDirectory() + "colony-store-\(UUID().uuidString)"
    }

    @Test func identityIsCreatedOnceAndKeptAcrossReopen() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try NodeStore(directory: dir).identity()
        let again = try NodeStore(directory: dir).identity()
        #expect(first.id == again.id)
        #expect(first.publicKeyBytes == again.publicKeyBytes)
        #expect(first.publicKeyBytes.count == 32)
        #expect(first.id == NodeIdentity.nodeID(for: first.publicKey), "the node id derives from the public key")
        let other = try NodeStore(directory: tempDir()).identity()
        #expect(other.id != first.id)
    }

    @Test func incarnationIsStrictlyHigherAfterEveryRestart() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var seen: [UInt64] = []
        for _ in 0..<5 {
            // Each open is a restart; nothing is closed gracefully (as after kill -9).
            let store = try NodeStore(directory: dir)
            seen.append(try store.nextIncarnation())
        }
        #expect(seen == [1, 2, 3, 4, 5])
        let store = try NodeStore(directory: dir)
        try store.record(incarnation: 40) // a refutation jumped ahead
        try store.record(incarnation: 7) // never lowers
        #expect(try store.storedIncarnation() == 40)
        #expect(try NodeStore(directory: dir).nextIncarnation() == 41)
    }

    @Test func knownPeersRoundTripMostRecentFirst() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try NodeStore(directory: dir)
        let a = KnownPeer(
            id: NodeID(high: 1, low: 2), name: "a", address: Address(host: "127.0.0.1", port: 7001), lastSeenMs: 10)
        let b = KnownPeer(
            id: NodeID(high: 3, low: 4), name: "b", address: Address(host: "::1", port: 7002), lastSeenMs: 20)
        try store.saveKnownPeers([a, b])
        #expect(try NodeStore(directory: dir).knownPeers() == [b, a])
        try store.saveKnownPeers([a])
        #expect(try store.knownPeers() == [a])
        #expect(b.address == Address(host: "::1", port: 7002))
    }

    @Test func schemaIsMigrated() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(
            try NodeStore(directory: dir).appliedMigrations() == [
                "v1: identity, incarnation, known peers", "v2: event log", "v3: network coordinate",
                "v4: event log quarantine",
            ])
    }

    @Test func aFileWhereTheDirectoryShouldBeIsAClearError() throws {
        let path = tempDir()
        FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: StoreError.notADirectory(path)) { try NodeStore(directory: path) }
    }
}

@Suite(.tags(.storage)) struct CoordinateStoreTests {
    @Test func theCoordinateSurvivesAReopen() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-coord-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try NodeStore(directory: dir).storedCoordinate() == nil)
        var c = Coordinate()
        c.vec = [0.001, -0.002, 0.003, 0, 0, 0, 0, 0.5]
        c.error = 0.3
        c.adjustment = -0.0001
        c.height = 0.0002
        try NodeStore(directory: dir).save(coordinate: c)
        #expect(try NodeStore(directory: dir).storedCoordinate() == c)
    }
}
