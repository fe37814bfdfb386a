import Testing

@testable import ColonyCore

/// Hive messages anyone could forge (issue 18), in a formed hive without signatures (the
/// default agent): each is refused and counted, and the old behaviour is named.
@Suite(.tags(.node, .hostile)) struct HiveForgeryTests {
    func formed() -> (net: Net, queen: Int, worker: Int) {
        var net = Net.hive(5)
        let ok = net.runUntilFormed()
        precondition(ok, "the hive did not form")
        let queen = net.queens()[0]
        return (net, queen, net.cores.keys.sorted().first { $0 != queen }!)
    }

    /// Before: a heartbeat naming a newer term from anyone was obeyed: the worker took the
    /// sender as its queen.
    @Test func aHeartbeatFromANonVoterIsRefused() {
        var (net, queen, worker) = formed()
        let c = net.cores[worker]!
        let stranger = Fixture.id(42)
        let forged = Packet(
            from: stranger,
            message: .hive(
                .heartbeat(
                    cell: c.hive.cell!, term: c.hive.term + 5, round: 1, version: c.hive.roster!.version,
                    roster: nil, signature: nil)))
        _ = net.cores[worker]!.receive(forged, from: Address(host: "10.9.9.9", port: 7946), now: net.now)
        #expect(net.cores[worker]!.hive.queen == Fixture.id(queen), "its queen is unchanged")
        #expect(net.cores[worker]!.hive.term == c.hive.term)
        #expect(net.cores[worker]!.hive.stats.unattributedRefused == c.hive.stats.unattributedRefused + 1)
    }

    /// Before: any packet naming a voter counted as that voter's (a pre-vote reply, an ack of
    /// the lease, a release) whatever host it came from.
    @Test func aMembersHiveMessageFromAnotherHostIsRefused() {
        var (net, queen, worker) = formed()
        let q = net.cores[queen]!
        let spoofed = Packet(from: Fixture.id(worker), message: .hive(.release(cell: q.hive.cell!, boot: 1)))
        _ = net.cores[queen]!.receive(spoofed, from: Address(host: "10.9.9.9", port: 7946), now: net.now)
        #expect(net.cores[queen]!.hive.stats.unattributedRefused == q.hive.stats.unattributedRefused + 1)
        #expect(net.cores[queen]!.hive.roster == q.hive.roster, "the worker was not released")
    }
}
