import ColonyCore
import ColonyNIO
import ColonyStore
import Foundation
import Logging
import NIOPosix
import Testing

/// Network coordinates on real sockets: learned from acks, kept across a restart.
@Suite(.serialized, .tags(.loopback)) struct CoordinateLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    @Test func coordinatesAreLearnedAndPersisted() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-coords-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func make(_ name: String, _ data: String?) -> ColonyNode {
            ColonyNode(
                configuration: .init(
                    name: name, bind: Address(host: "127.0.0.1", port: 0), settings: .local, dataDirectory: data),
                logger: Logger(label: name) { _ in SwiftLogNoOpLogHandler() }, eventLoopGroup: group)
        }
        let a = make("a", dir)
        let others = [make("b", nil), make("c", nil)]
        let seed = try await a.start()
        for n in others {
            _ = try await n.start()
            try await n.join(seeds: ["\(seed)"])
        }
        let learned = await eventually(10) { await a.coordinates().peers.count == 2 }
        #expect(learned, "a holds both peers' coordinates from their acks")
        #expect(await a.coordinates().me != Coordinate(), "a has moved from the origin")
        // Probes go on until the stop, which saves the coordinate as it is then.
        await a.stop()
        let mine = try #require(try NodeStore(directory: dir).storedCoordinate(), "the stop saved the coordinate")
        #expect(mine != Coordinate())
        let again = make("a", dir)
        _ = try await again.start()
        #expect(await again.coordinates().me == mine, "the coordinate survives the restart")
        await again.stop()
        for n in others { await n.stop() }
    }
}
