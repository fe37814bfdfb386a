import ColonyCore
import ColonyNIO
import ColonyStore
import ColonyTrust
import Crypto
import Foundation
import Logging
import NIOPosix
import Testing

/// Admission by certificate and revocation, on real sockets.
@Suite(.serialized, .tags(.loopback)) struct AdmissionLoopbackTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let logs = CapturedLogs()

    /// A node with a fresh data directory holding a certificate from `authority` (or none).
    func node(
        _ name: String, admitting authority: Authority, certifiedBy issuer: Authority?, keyring: Keyring? = nil,
        dir given: String? = nil
    ) throws -> (ColonyNode, String) {
        let dir =
            given
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("colony-admission-\(name)-\(UUID())").path
        let identity = try NodeStore(directory: dir).identity()
        if let issuer {
            let cert = issuer.issue(
                publicKey: identity.publicKeyBytes, name: name,
                expiresMs: UInt64(Date().timeIntervalSince1970 * 1000) + 3_600_000)
            try CertificateFile(cert).save(directory: dir)
        }
        var settings = Settings.local
        settings.trust.authorityKey = authority.publicKey
        var c = ColonyNode.Configuration(
            name: name, bind: Address(host: "127.0.0.1", port: 0), settings: settings, dataDirectory: dir)
        c.keyring = keyring
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
        let seed = try await startSwarm(nodes)[0]
        let converged = await eventually(10) { await allSee(nodes, alive: 3) }
        #expect(converged, "three certified nodes form a swarm")

        // Certified by another authority, and not certified at all: neither gets in.
        let (rogue, rogueDir) = try node("rogue", admitting: authority, certifiedBy: Authority.generate())
        dirs.append(rogueDir)
        _ = try await rogue.start()
        await #expect(throws: ColonyError.self) { try await rogue.join(seeds: ["\(seed)"]) }
        #expect(await rogue.members().count == 1, "the rogue learned nothing of the swarm")
        #expect(await nodes[0].members().count == 3)
        #expect(await nodes[0].statistics().core.trust.admissionRefused > 0)
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
        let before = await nodes[1].statistics().core.trust.revokedRefused
        // c2 soon holds c1 dead (c1 answers nothing) and then reaches it only by gossip to the
        // recently dead and by reconnect attempts (every 10 s); since queen claims travel the
        // hive's tree rather than gossip, a quiet swarm gives it fewer of the former.
        let stillRefused = await eventually(15) { await nodes[1].statistics().core.trust.revokedRefused > before }
        #expect(stillRefused, "c2's packets (it keeps probing) are refused and counted")
        try await Task.sleep(for: .seconds(1))
        #expect(
            await nodes[1].members().first(where: { $0.id == victim.id })?.status == .dead,
            "c2 cannot refute its way back")
        // A revocation not signed by the authority is refused locally.
        await #expect(throws: StateError.invalidRevocation) {
            try await nodes[0].revoke(Authority.generate().revoke(nodes[1].me()!.id, atMs: 1))
        }
        for n in nodes { await n.stop() }
    }

    /// `colony force-leave` on real nodes: a crashed member is made `left` by the operator's
    /// (here the authority's) signed order on every survivor, then pruned; a member's own
    /// order, or none, is refused and changes nothing.
    @Test func anOperatorForcesAFailedMemberOutOnEverySurvivor() async throws {
        let authority = Authority.generate()
        var nodes: [ColonyNode] = []
        var dirs: [String] = []
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        for i in 0..<4 {
            let (n, d) = try node("f\(i)", admitting: authority, certifiedBy: authority)
            nodes.append(n)
            dirs.append(d)
        }
        try await startSwarm(nodes)
        #expect(await eventually(10) { await allSee(nodes, alive: 4) }, "four certified nodes form a swarm")
        let gone = try #require(await nodes[3].me())
        await nodes[3].stop()
        let survivors = Array(nodes.prefix(3))
        func status(_ n: ColonyNode) async -> MemberStatus? { await n.members().first { $0.id == gone.id }?.status }
        let failed = await eventually(20) {
            for n in survivors where await status(n) != .dead { return false }
            return true
        }
        #expect(failed, "the survivors hold f3 dead")
        let incarnation = try #require(await survivors[0].members().first { $0.id == gone.id }?.incarnation)
        func order(prune: Bool, by signer: Authority = authority) -> TimedOrder {
            let at = UInt64(Date().timeIntervalSince1970 * 1000)
            let o = OperatorOrder.forceLeave(id: gone.id, incarnation: incarnation, prune: prune, issuedAtMs: at)
            return TimedOrder(signature: signer.sign(o), issuedAtMs: at)
        }
        // Refused before anything is sent: no order, an order signed by a member's own
        // identity key (f1's, from its data directory), and a live member.
        let member = Authority(privateKey: try NodeStore(directory: dirs[1]).identity().privateKey)
        await #expect(throws: ForceLeaveError.order(.operatorRequired)) {
            try await survivors[1].forceLeave("f3", timeout: .seconds(2))
        }
        await #expect(throws: ForceLeaveError.order(.notAnOperator)) {
            try await survivors[1].forceLeave("f3", order: order(prune: false, by: member))
        }
        await #expect(throws: ForceLeaveError.alive("f2")) {
            try await survivors[1].forceLeave("f2", order: order(prune: false))
        }
        #expect(await survivors[1].statistics().core.trust.ordersRefused >= 2)
        for n in survivors { #expect(await status(n) == .dead) }

        // The operator's order, by name: every survivor answers and holds f3 left.
        let left = try await survivors[1].forceLeave("f3", order: order(prune: false), timeout: .seconds(5))
        #expect(left.complete, "\(left)")
        #expect(left.outcomes == ["left": 3], "\(left)")
        for (i, n) in survivors.enumerated() {
            let s = await status(n)
            #expect(s == .left, "f\(i) holds f3 \(s.map { "\($0)" } ?? "gone")")
        }
        // With prune, by id: its record is gone everywhere.
        let pruned = try await survivors[0].forceLeave(
            gone.id.description, prune: true, order: order(prune: true), timeout: .seconds(5))
        #expect(pruned.outcomes == ["pruned": 3], "\(pruned)")
        for (i, n) in survivors.enumerated() { #expect(await status(n) == nil, "f\(i) still lists f3") }
        await #expect(throws: ForceLeaveError.unknownMember("f3")) {
            try await survivors[2].forceLeave("f3", prune: true, order: order(prune: true))
        }
        for n in survivors { await n.stop() }
    }

    /// serf#579, solved: a certified node offline through two key rotations comes back with
    /// only the old key, asks a seed for the keyring with its certificate, and rejoins with
    /// no manual step.
    @Test func aCertifiedNodeOfflineThroughTwoRotationsRejoinsByItself() async throws {
        let authority = Authority.generate()
        let k1 = try Keyring(primaryBase64: Keyring.generateKey())
        var nodes: [ColonyNode] = []
        var dirs: [String] = []
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        for i in 0..<3 {
            let (n, d) = try node("r\(i)", admitting: authority, certifiedBy: authority, keyring: k1)
            nodes.append(n)
            dirs.append(d)
        }
        let seed = try await startSwarm(nodes)[0]
        #expect(await eventually(10) { await nodes[0].members(status: .alive).count == 3 })
        // r2 goes away; the others rotate twice.
        await nodes[2].stop()
        let live = Array(nodes.prefix(2))
        var old = k1.primary
        var current = k1.primary
        // With an authority, keyring changes are the operator's (the authority's) orders: a
        // member's own is refused before it leaves.
        let first = try Keyring.decode(Keyring.generateKey())
        await #expect(throws: OrderRefusal.operatorRequired) {
            try await live[0].changeKeyring(.install(first), timeout: .seconds(2))
        }
        func order(_ op: KeyringOperation) -> KeyringOrder {
            let at = UInt64(Date().timeIntervalSince1970 * 1000)
            return KeyringOrder(signature: authority.sign(op.order(issuedAtMs: at)), issuedAtMs: at)
        }
        for k in 0..<2 {
            let next = k == 0 ? first : try Keyring.decode(Keyring.generateKey())
            for op in [KeyringOperation.install(next), .use(next), .remove(old)] {
                let o = order(op)
                let s = try await live[0].changeKeyring(op, order: o, timeout: .seconds(2))
                #expect(s.errors.isEmpty, "\(s)")
                if k == 0, case .install = op {
                    // The same order again is a replay: every member refuses it.
                    let again = try await live[0].changeKeyring(op, order: o, timeout: .seconds(2))
                    #expect(
                        again.errors.count == 2 && again.errors.values.allSatisfy { $0.contains("already") }, "\(again)"
                    )
                }
            }
            old = next
            current = next
        }
        for n in live { #expect(await n.keyring().keys == [Data(current).base64EncodedString()]) }
        // r2 restarts from its data directory: it holds only k1.
        let (back, _) = try node("r2", admitting: authority, certifiedBy: nil, keyring: k1, dir: dirs[2])
        _ = try await back.start()
        #expect(await back.keyring().keys == k1.encodedKeys)
        try? await back.join(seeds: ["\(seed)"])
        let rejoined = await eventually(20) {
            let here = await back.members(status: .alive).count
            let there = await live[0].members(status: .alive).count
            return here == 3 && there == 3
        }
        #expect(rejoined, "r2 rejoined without anyone touching it")
        #expect(await back.keyring().primary == Data(current).base64EncodedString(), "it holds the current primary")
        #expect(await back.statistics().driver.keyringsRecovered == 1)
        #expect(await live[0].statistics().driver.keyringsHandedOut >= 1)
        for n in live + [back] { await n.stop() }
    }

    /// The exchange refuses strangers both ways: a request with a certificate from another
    /// authority gets nothing, and an answer from an uncertified responder is not installed.
    @Test func keyringRecoveryRefusesTheUncertified() throws {
        let authority = Authority.generate()
        let other = Authority.generate()
        let ring = try Keyring(primaryBase64: Keyring.generateKey())
        let member = Curve25519.Signing.PrivateKey()
        let memberCert = authority.issue(
            publicKey: Array(member.publicKey.rawRepresentation), name: "m", expiresMs: UInt64.max / 2)
        let asker = Curve25519.Signing.PrivateKey()
        let now: UInt64 = 1_800_000_000_000
        // Certified by another authority: refused.
        let rogueCert = other.issue(
            publicKey: Array(asker.publicKey.rawRepresentation), name: "a", expiresMs: UInt64.max / 2)
        let (rogueRequest, _) = KeyringRecovery.request(certificate: rogueCert, signer: asker, atMs: now)
        #expect(throws: TrustError.self) {
            try KeyringRecovery.answer(
                rogueRequest, keyring: ring, authority: authority.publicKey, certificate: memberCert, signer: member,
                nowMs: now, windowMs: 60_000
            ) { _ in false }
        }
        // Properly certified: answered, and the answer opens to the keyring.
        let askerCert = authority.issue(
            publicKey: Array(asker.publicKey.rawRepresentation), name: "a", expiresMs: UInt64.max / 2)
        let (request, pending) = KeyringRecovery.request(certificate: askerCert, signer: asker, atMs: now)
        let answer = try KeyringRecovery.answer(
            request, keyring: ring, authority: authority.publicKey, certificate: memberCert, signer: member, nowMs: now,
            windowMs: 60_000
        ) { _ in false }
        #expect(
            try KeyringRecovery.open(answer, pending: pending, authority: authority.publicKey, nowMs: now) { _ in false
            } == ring)
        #expect(WireNamespace(first: request) == .keyringRequest, "each frame's first byte is its namespace")
        #expect(WireNamespace(first: answer) == .keyringResponse)
        // Revoked asker, stale request: refused.
        #expect(throws: TrustError.self) {
            try KeyringRecovery.answer(
                request, keyring: ring, authority: authority.publicKey, certificate: memberCert, signer: member,
                nowMs: now, windowMs: 60_000
            ) { _ in true }
        }
        #expect(throws: TrustError.self) {
            try KeyringRecovery.answer(
                request, keyring: ring, authority: authority.publicKey, certificate: memberCert, signer: member,
                nowMs: now + 120_000, windowMs: 60_000
            ) { _ in false }
        }
        // An answer from a responder certified by another authority is not installed.
        let rogueMemberCert = other.issue(
            publicKey: Array(member.publicKey.rawRepresentation), name: "m", expiresMs: UInt64.max / 2)
        let rogueAnswer = try KeyringRecovery.answer(
            request, keyring: ring, authority: authority.publicKey, certificate: rogueMemberCert, signer: member,
            nowMs: now, windowMs: 60_000
        ) { _ in false }
        #expect(throws: TrustError.self) {
            try KeyringRecovery.open(rogueAnswer, pending: pending, authority: authority.publicKey, nowMs: now) { _ in
                false
            }
        }
        // Tampered sealed keyring: refused.
        var tampered = answer
        tampered[tampered.count / 2] ^= 1
        #expect(throws: (any Error).self) {
            try KeyringRecovery.open(tampered, pending: pending, authority: authority.publicKey, nowMs: now) { _ in
                false
            }
        }
    }
}
