import ColonyCore
import ColonyNIO
import ColonyStore
import ColonyTrust
import Foundation
import Logging
import NIOPosix
import Testing

/// Admission by certificate and revocation, on real sockets.
@Suite(.serialized) struct AdmissionLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()

    /// A node with a fresh data directory holding a certificate from `authority` (or none).
    func node(_ name: String, admitting authority: Authority, certifiedBy issuer: Authority?) throws -> (ColonyNode, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-admission-\(name)-\(UUID())").path
        let identity = try NodeStore(directory: dir).identity()
        if let issuer {
            let cert = issuer.issue(publicKey: identity.publicKeyBytes, name: name, expiresMs: UInt64(Date().timeIntervalSince1970 * 1000) + 3_600_000)
            try CertificateFile(cert).save(directory: dir)
        }
        var settings = Settings.local
        settings.trust.authorityKey = authority.publicKey
        let c = ColonyNode.Configuration(name: name, bind: Address(host: "127.0.0.1", port: 0), settings: settings, dataDirectory: dir)
        return (ColonyNode(configuration: c, logger: logs.logger(name), eventLoopGroup: group), dir)
    }

    @Test func onlyCertifiedNodesJoinAndARevokedOneIsRefusedEverywhere() async throws {
        let authority = Authority.generate()
        var nodes: [ColonyNode] = []
        var dirs: [String] = []
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        for i in 0..<3 {
            let (n, d) = try node("c\(i)", admitting: authority, certifiedBy: authority)
            nodes.append(n)
            dirs.append(d)
        }
        let seed = try await nodes[0].start()
        for n in nodes.dropFirst() {
            _ = try await n.start()
            try await n.join(seeds: ["\(seed)"])
        }
        let converged = await eventually(10) {
            for n in nodes where await n.members(status: .alive).count != 3 { return false }
            return true
        }
        #expect(converged, "three certified nodes form a swarm")

        // Certified by another authority, and not certified at all: neither gets in.
        let (rogue, rogueDir) = try node("rogue", admitting: authority, certifiedBy: Authority.generate())
        dirs.append(rogueDir)
        _ = try await rogue.start()
        await #expect(throws: ColonyError.self) { try await rogue.join(seeds: ["\(seed)"]) }
        #expect(await rogue.members().count == 1, "the rogue learned nothing of the swarm")
        #expect(await nodes[0].members().count == 3)
        #expect(await nodes[0].statistics().core.admissionRefused > 0)
        await rogue.stop()
        let (bare, bareDir) = try node("bare", admitting: authority, certifiedBy: nil)
        dirs.append(bareDir)
        await #expect(throws: ColonyError.noCertificate) { try await bare.start() }

        // Revoke c2 through c0: every member refuses it from then on.
        let victim = try #require(await nodes[2].me())
        try await nodes[0].revoke(authority.revoke(victim.id, atMs: UInt64(Date().timeIntervalSince1970 * 1000)))
        let refused = await eventually(10) {
            for n in nodes.prefix(2) {
                guard await n.revokedIdentities() == [victim.id] else { return false }
                guard await n.members().first(where: { $0.id == victim.id })?.status == .dead else { return false }
            }
            return true
        }
        #expect(refused, "c0 and c1 hold c2 revoked and dead")
        let before = await nodes[1].statistics().core.revokedRefused
        let stillRefused = await eventually(5) { await nodes[1].statistics().core.revokedRefused > before }
        #expect(stillRefused, "c2's packets (it keeps probing) are refused and counted")
        try await Task.sleep(for: .seconds(1))
        #expect(await nodes[1].members().first(where: { $0.id == victim.id })?.status == .dead, "c2 cannot refute its way back")
        // A revocation not signed by the authority is refused locally.
        await #expect(throws: StateError.invalidRevocation) {
            try await nodes[0].revoke(Authority.generate().revoke(nodes[1].me()!.id, atMs: 1))
        }
        for n in nodes { await n.stop() }
    }
}
