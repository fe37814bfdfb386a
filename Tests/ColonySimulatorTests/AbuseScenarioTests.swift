import ColonyCore
import ColonySimulator
import Testing

/// The abuse scenario (issue #5): floods, forgeries and freeloading in a signed swarm.
@Suite(.tags(.simulation, .hostile)) struct AbuseScenarioTests {
    func run(nodes: Int, seed: UInt64, duration: Double = 30) throws -> SimulationResult {
        var o = SimulationOptions(scenario: .abuse, nodes: nodes, seed: seed, profile: "lan")
        o.durationSeconds = duration
        return try checkedRun(o)
    }

    @Test(arguments: [UInt64(1), 2])
    func honestNodesConvergeAndOffendersAreGraylistedFast(seed: UInt64) throws {
        let r = try run(nodes: 30, seed: seed)
        let reproduce = SimulationOptions(scenario: .abuse, nodes: 30, seed: seed).reproduceCommand + " --duration 30"
        #expect(
            r.abuse.honestDeliveryRatio == 1, "every honest write and event reached every honest node — \(reproduce)")
        #expect(r.abuse.offenders == 6)
        #expect(r.abuse.offendersGraylisted == r.abuse.offenders, "\(reproduce)")
        #expect(r.abuse.honestGraylisted == 0, "\(reproduce)")
        // Floods and forgeries within 10 gossip rounds; freeloading, which loss imitates,
        // once a run of ignored requests is longer than loss explains (within 100).
        for (kind, rounds) in r.abuse.graylistRoundsByKind {
            #expect(rounds <= (kind == "freeloader" ? 100 : 10), "\(kind): \(rounds) rounds — \(reproduce)")
        }
        #expect(r.abuse.offencePairsNotGraylisted == 0, "\(reproduce)")
        // Every kind of offender was met and caught.
        #expect(
            Set(r.abuse.graylistRoundsByKind.keys) == ["flooder", "forger", "freeloader"],
            "\(r.abuse.graylistRoundsByKind)")
        let json = try r.parsedJSON()
        #expect(json["honestDeliveryRatio"] == .number(1))
        #expect(json["graylistRoundsMax"]?.isNumber == true)
    }

    /// Without the defences the same attack is not survived cleanly: forged claims are taken
    /// for real when nobody checks signatures. (The check can fail: it guards the scenario
    /// against measuring nothing.)
    @Test func forgeriesLandWithoutSignatures() throws {
        let sim = Simulator(seed: 3, settings: .lan, network: .lan)
        sim.addNodes(3)
        let table = sim.convergedTable(0..<3)
        for i in 0..<3 { sim.start(i, known: table) }
        let victim = sim.member(for: 1)
        var forged = victim
        forged.incarnation += 5
        forged.address = Address(host: "10.66.6.6", port: 7946)
        var believed = false
        sim.onEvent = { _, i, e in
            if i == 0, case .memberChanged(let m, _) = e, m.address == forged.address { believed = true }
        }
        sim.inject(Packet(from: sim.nodes[2].id, message: .gossip, updates: [.alive(forged)]), from: 2, to: 0)
        sim.run(until: Instant.zero + .seconds(1))
        #expect(believed, "an unsigned swarm believes the forgery (until the victim refutes it)")

        let signed = Simulator(seed: 3, settings: .lan, network: .lan)
        signed.authenticate = true
        signed.addNodes(3)
        for i in 0..<3 { signed.start(i, known: signed.convergedTable(0..<3)) }
        var fooled = false
        signed.onEvent = { _, i, e in
            if i == 0, case .memberChanged(let m, _) = e, m.address == forged.address { fooled = true }
        }
        signed.inject(Packet(from: signed.nodes[2].id, message: .gossip, updates: [.alive(forged)]), from: 2, to: 0)
        signed.run(until: Instant.zero + .seconds(1))
        #expect(!fooled, "a signed swarm refuses it")
        #expect((signed.nodes[0].core?.stats.trust.signaturesRejected ?? 0) >= 1)
    }
}
