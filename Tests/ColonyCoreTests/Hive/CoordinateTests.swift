import Testing

@testable import ColonyCore

/// Vivaldi network coordinates (issue #6, first part).
@Suite(.tags(.machine)) struct CoordinateTests {
    /// Nodes on a line with true RTTs proportional to distance: after rounds of mutual
    /// updates every estimate is within 10% of the truth.
    @Test func coordinatesLearnTheTrueRoundTrips() {
        let positions: [Double] = [0, 0.010, 0.025, 0.060, 0.100] // seconds apart
        var clients = positions.map { _ in VivaldiClient() }
        var rng = Xoshiro256(seed: 7)
        let ids = positions.indices.map { NodeID(high: UInt64($0), low: 1) }
        for _ in 0..<400 {
            for i in clients.indices {
                let j = (i + 1 + rng.below(clients.count - 1)) % clients.count
                let rtt = abs(positions[i] - positions[j]) + 0.001
                let other = clients[j].coordinate
                clients[i].update(peer: ids[j], other: other, rtt: rtt, rng: &rng)
            }
        }
        for i in clients.indices {
            for j in clients.indices where i != j {
                let truth = abs(positions[i] - positions[j]) + 0.001
                let estimate = clients[i].coordinate.distance(to: clients[j].coordinate)
                #expect(abs(estimate - truth) / truth < 0.10, "\(i)→\(j): estimated \(estimate), true \(truth)")
            }
        }
        #expect(clients.allSatisfy { $0.coordinate.error < 0.5 }, "confidence grows as estimates get right")
    }

    /// Hostile coordinates and RTTs change nothing.
    @Test func invalidInputIsRefused() {
        var c = VivaldiClient()
        var rng = Xoshiro256(seed: 1)
        let before = c.coordinate
        var nan = Coordinate()
        nan.vec[3] = .nan
        c.update(peer: NodeID(high: 1, low: 1), other: nan, rtt: 0.01, rng: &rng)
        c.update(peer: NodeID(high: 1, low: 1), other: Coordinate(vec: [1, 2]), rtt: 0.01, rng: &rng)
        c.update(peer: NodeID(high: 1, low: 1), other: Coordinate(), rtt: -1, rng: &rng)
        c.update(peer: NodeID(high: 1, low: 1), other: Coordinate(), rtt: .infinity, rng: &rng)
        var huge = Coordinate()
        huge.vec[0] = 1e308
        huge.height = 1e308
        c.update(peer: NodeID(high: 1, low: 1), other: huge, rtt: 0.01, rng: &rng)
        #expect(c.coordinate.isValid)
        #expect(c.rejected == 4)
        #expect(c.coordinate == before || c.coordinate.isValid)
    }

    /// A direct ack carries the acker's coordinate; the prober updates its own from the RTT
    /// and remembers the peer's.
    @Test func acksCarryCoordinatesAndProbesUpdateThem() {
        var a = Fixture.core(0, knows: [0, 1])
        var t = Fixture.ms(0)
        var seq: UInt32 = 0
        var target: Peer?
        for _ in 0..<40 {
            t = t + .milliseconds(100)
            let e = a.tick(now: t)
            if let ping = Fixture.sends(e).first(where: { if case .ping = $0.0.message { true } else { false } }),
                case .ping(let s, _) = ping.0.message
            {
                seq = s
                target = ping.1
                var peer = Coordinate()
                peer.vec[0] = 0.02
                _ = a.receive(
                    Fixture.packet(from: 1, .ack(seq: seq, coordinate: peer)), from: Fixture.address(1),
                    now: t + .milliseconds(30))
            }
        }
        #expect(target != nil, "a probe was sent")
        #expect(a.vivaldi.updates > 0)
        #expect(a.peerCoordinates[Fixture.id(1)]?.vec[0] == 0.02)
        let estimate = a.estimatedRTT(to: Fixture.id(1)) ?? 0
        #expect(estimate > 0.005 && estimate < 0.1, "estimated \(estimate) s for a 30 ms round trip")
        // Through the wire as 32-bit floats: re-encodes byte for byte, values within float
        // precision.
        let packet = Fixture.packet(from: 1, .ack(seq: 3, coordinate: a.vivaldi.coordinate))
        let bytes = Wire.encode(packet)
        let decoded = try? Wire.decode(bytes)
        #expect(decoded.map(Wire.encode) == bytes)
        if case .ack(3, let c?)? = decoded?.message {
            let original = a.vivaldi.coordinate
            for (x, y) in zip(
                c.vec + [c.error, c.adjustment, c.height],
                original.vec + [original.error, original.adjustment, original.height])
            {
                #expect(abs(x - y) <= max(abs(y), 1e-9) * 1e-6)
            }
        } else {
            Issue.record("the ack lost its coordinate on the wire")
        }
    }
}
