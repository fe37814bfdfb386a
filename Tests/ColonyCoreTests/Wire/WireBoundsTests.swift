import Testing

@testable import ColonyCore

/// The inbound gate's bounds (issue 18: no packet can crash a node): values no honest node
/// sends are refused whole, counted, and blame nobody.
@Suite(.tags(.hostile, .wire)) struct WireBoundsTests {
    let cell = CellID(7)
    let version = RosterVersion(term: 3, index: 1)

    @Test func countersAtTheCeilingAreRefusedAndHonestOnesPass() {
        let edge = maxCounter
        let honest: [Message] = [
            .hive(.heartbeat(cell: cell, term: 3, round: 9, version: version, roster: nil, signature: nil)),
            .hive(.preVote(cell: cell, term: edge - 1, version: version, boot: 1)),
            .ack(seq: .max, coordinate: Coordinate()),
        ]
        for m in honest { #expect(WireBounds.admits(Packet(from: Fixture.id(1), message: m)), "\(m)") }
        let hostile: [Message] = [
            .hive(.heartbeat(cell: cell, term: .max, round: 9, version: version, roster: nil, signature: nil)),
            .hive(.heartbeat(cell: cell, term: 3, round: edge, version: version, roster: nil, signature: nil)),
            .hive(.preVote(cell: cell, term: 4, version: RosterVersion(term: .max, index: 0), boot: 1)),
            .hive(.requestVote(cell: cell, term: 4, version: version, boot: .max, signature: nil)),
            .hive(.vote(cell: cell, term: edge, candidate: Fixture.id(2), granted: true, boot: 1, signature: nil)),
            .hive(.enlisted(cell: cell, term: .max, accepted: true)),
            .graft([.record(Dot(origin: Fixture.id(1), counter: .max))]),
            .ihave([.claim(cell: cell, term: 1, serial: edge)]),
            .sync(.eventIDs(exchange: 1, ids: [Dot(origin: Fixture.id(1), counter: edge)], isReply: false)),
            .ack(seq: 1, coordinate: Coordinate(vec: Array(repeating: .nan, count: Coordinate.dimensions))),
            .ack(seq: 1, coordinate: Coordinate(vec: [1, 2])),
            .hive(
                .heartbeatAck(
                    cell: cell, term: 3, round: 1, version: version, boot: 1,
                    coordinate: Coordinate(vec: Array(repeating: 0, count: Coordinate.dimensions), error: .infinity))),
        ]
        for m in hostile { #expect(!WireBounds.admits(Packet(from: Fixture.id(1), message: m)), "\(m)") }
    }

    @Test func newsBeyondTheCeilingSpoilsItsWholePacket() {
        let fine = Update.suspect(id: Fixture.id(3), incarnation: 5, from: Fixture.id(1))
        let bad: [Update] = [
            .suspect(id: Fixture.id(3), incarnation: .max, from: Fixture.id(1)),
            .alive(Fixture.member(3, incarnation: maxCounter)),
            .event(
                UserEvent(
                    id: Dot(origin: Fixture.id(1), counter: 1), lamport: .max, name: "e", payload: [], coalesce: false)),
            .record(
                StateRecord(
                    key: "k", value: [1], dot: Dot(origin: Fixture.id(1), counter: 2), prev: 1,
                    context: CausalContext(base: VersionVector([Dot(origin: Fixture.id(2), counter: .max)])),
                    timestamp: HLCTimestamp(physicalMs: 1, logical: 0))),
        ]
        #expect(WireBounds.admits(Packet(from: Fixture.id(1), message: .gossip, updates: [fine])))
        for u in bad {
            #expect(!WireBounds.admits(Packet(from: Fixture.id(1), message: .gossip, updates: [fine, u])), "\(u)")
        }
    }

    /// The forged heartbeat of issue 18: a term of `UInt64.max` from the queen's id, obeyed, made
    /// the worker's next election overflow and trap. Now it is refused at the gate and the
    /// hive carries on through an election.
    @Test func aHeartbeatAtTheCeilingCannotCrashTheNextElection() {
        var net = Net.hive(5)
        let formed = net.runUntilFormed()
        #expect(formed)
        let queen = net.queens()[0]
        let worker = net.cores.keys.sorted().first { $0 != queen }!
        let c = net.cores[worker]!
        let forged = Packet(
            from: Fixture.id(queen),
            message: .hive(
                .heartbeat(
                    cell: c.hive.cell!, term: .max, round: .max, version: c.hive.roster!.version, roster: nil,
                    signature: nil)))
        let before = c.stats.trust.outOfRange
        net.absorb(
            net.cores[worker]!.receive(forged, from: Fixture.address(queen), now: net.now), from: worker)
        #expect(net.cores[worker]!.stats.trust.outOfRange == before + 1, "refused and counted")
        #expect(net.cores[worker]!.hive.term < maxCounter, "the term was not adopted")
        #expect(net.cores[queen]!.stats.trust.offences == c.stats.trust.offences, "nobody blamed")
        net.crash(queen) // an election follows in the remaining four
        net.run(for: 10_000)
        #expect(net.cores.values.contains { $0.hive.role == .queen }, "a new queen was elected")
        #expect(net.violations.isEmpty, "\(net.violations)")
    }
}
