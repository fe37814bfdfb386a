import HashTreeCollections
import Testing

@testable import ColonyCore

@Suite(.tags(.machine)) struct PiggybackQueueTests {
    @Test func retransmitLimitIsMultTimesCeilLog10() {
        let lan = Settings.lan
        #expect(lan.retransmitLimit(members: 1) == 4)
        #expect(lan.retransmitLimit(members: 9) == 4)
        #expect(lan.retransmitLimit(members: 100) == 12)
        #expect(lan.retransmitLimit(members: 10_000) == 20)
        #expect(Settings.local.retransmitLimit(members: 100) == 12)
    }

    @Test func entryIsSentExactlyLimitTimes() {
        var q = BroadcastQueue(maxEntries: 100)
        q.enqueue(.alive(Fixture.member(1)))
        for _ in 0..<3 { #expect(q.take(budget: 1_000, limit: 3).count == 1) }
        #expect(q.take(budget: 1_000, limit: 3).isEmpty)
        #expect(q.isEmpty)
    }

    @Test func newerNewsAboutAMemberSupersedesQueuedNews() {
        var q = BroadcastQueue(maxEntries: 100)
        q.enqueue(.alive(Fixture.member(1)))
        q.enqueue(.suspect(id: Fixture.id(1), incarnation: 1, from: Fixture.id(2)))
        #expect(q.count == 1)
        #expect(q.take(budget: 1_000, limit: 5) == [.suspect(id: Fixture.id(1), incarnation: 1, from: Fixture.id(2))])
    }

    @Test func leastTransmittedFirstThenNewest() {
        var q = BroadcastQueue(maxEntries: 100)
        q.enqueue(.alive(Fixture.member(1)))
        _ = q.take(budget: 1_000, limit: 5)
        q.enqueue(.alive(Fixture.member(2)))
        q.enqueue(.alive(Fixture.member(3)))
        let oneFits = Wire.size(of: .alive(Fixture.member(3)))
        #expect(q.take(budget: oneFits, limit: 5) == [.alive(Fixture.member(3))])
        #expect(q.take(budget: oneFits, limit: 5) == [.alive(Fixture.member(2))])
        // All three have been sent once now: newest first again.
        #expect(q.take(budget: oneFits, limit: 5) == [.alive(Fixture.member(3))])
        #expect(q.entries[.member(Fixture.id(1))]?.transmits == 1 && q.entries[.member(Fixture.id(3))]?.transmits == 2)
    }

    @Test func packingRespectsTheByteBudget() {
        var q = BroadcastQueue(maxEntries: 1_000)
        for i in 0..<200 { q.enqueue(.alive(Fixture.member(i))) }
        let taken = q.take(budget: 500, limit: 5)
        let bytes = taken.reduce(0) { $0 + Wire.size(of: $1) }
        #expect(!taken.isEmpty)
        #expect(bytes <= 500)
    }

    @Test func queueIsBounded() {
        var q = BroadcastQueue(maxEntries: 10)
        for i in 0..<50 { q.enqueue(.alive(Fixture.member(i))) }
        #expect(q.count == 10)
        #expect(q.contains(subject: .member(Fixture.id(49))), "the newest survive")
    }

    @Test func datagramsStayUnderTheMTU() throws {
        var a = Fixture.core(0, knows: [0, 1])
        var news: [Update] = []
        for i in 2..<300 { news.append(.alive(Fixture.member(i))) }
        // Deliver in chunks, as gossip would.
        for chunk in stride(from: 0, to: news.count, by: 20) {
            _ = a.receive(
                Fixture.packet(from: 1, .gossip, Array(news[chunk..<min(chunk + 20, news.count)])),
                from: Fixture.address(1),
                now: Fixture.ms(1))
        }
        #expect(a.queue.count >= 250)
        let e = a.receive(
            Fixture.packet(from: 1, .ping(seq: 5, target: Fixture.id(0))), from: Fixture.address(1), now: Fixture.ms(2))
        let ack = try #require(Fixture.sends(e).first)
        #expect(
            ack.0.message == .ack(seq: 5, coordinate: a.vivaldi.coordinate),
            "a direct ack carries the acker's coordinate")
        #expect(ack.0.updates.count > 10, "acks carry piggybacked news")
        #expect(Wire.size(of: ack.0) <= a.settings.maxDatagramBytes)
    }
}

@Suite(.tags(.wire)) struct WireTests {
    static func sample() -> [Packet] {
        var tagged = Fixture.member(3, incarnation: 300)
        tagged.tags = ["role": "db", "zone": "eu-1", "ünï": "cødé"]
        let sync: [Sync] = [
            .join(exchange: 1, members: [Fixture.member(1), tagged]),
            .joinReply(exchange: 2, members: (0..<40).map { Fixture.member($0) }),
            .digest(exchange: 3, root: 0xDEAD_BEEF, count: 10_000),
            .inSync(exchange: 4),
            .buckets(exchange: 5, bits: 4, hashes: (0..<16).map { UInt64($0) << 50 }),
            .entries(exchange: 6, bits: 8, buckets: [0, 200, 255], members: [tagged], isReply: true),
        ]
        var packets: [Packet] = [
            Fixture.packet(from: 1, .ping(seq: 1, target: Fixture.id(2))),
            Fixture.packet(from: 1, .ack(seq: 300), [.alive(tagged), .left(id: Fixture.id(4), incarnation: 1 << 40)]),
            Fixture.packet(from: 1, .nack(seq: UInt32.max)),
            Fixture.packet(
                from: 1, .pingReq(seq: 9, target: Fixture.id(2), targetAddress: Address(host: "fe80::1", port: 65535))),
            Fixture.packet(
                from: 1, .gossip,
                [
                    .suspect(id: Fixture.id(5), incarnation: 2, from: Fixture.id(6)),
                    .dead(id: Fixture.id(7), incarnation: 0, from: Fixture.id(8)),
                ]),
        ]
        packets += sync.map { Fixture.packet(from: 2, .sync($0)) }
        return packets
    }

    @Test func sizeIsExactlyTheEncodedLength() {
        for p in Self.sample() {
            #expect(Wire.size(of: p) == Wire.encode(p).count, "\(p.message.kind)")
        }
    }

    @Test func encodingIsDeterministicAndVersioned() {
        for p in Self.sample() {
            let bytes = Wire.encode(p)
            #expect(bytes == Wire.encode(p))
            #expect(bytes.first == Wire.version)
        }
    }
}

@Suite(.tags(.node)) struct AntiEntropyTests {
    @Test func digestExchangeRepairsBothSidesAndSendsOnlyDifferingBuckets() {
        var a = Fixture.core(0, knows: Array(0..<400))
        var b = Fixture.core(1, knows: Array(0..<395) + Array(400..<405))
        _ = a.tick(now: Fixture.ms(1))
        _ = b.tick(now: Fixture.ms(1))
        var net = Net([0: a, 1: b])
        net.now = Fixture.ms(1)
        net.cores[0]!.startDigest(with: Fixture.member(1).peer)
        net.absorb(net.cores[0]!.flush(), from: 0)
        net.settle()
        a = net.cores[0]!
        b = net.cores[1]!
        #expect(a.table.count == 405)
        #expect(b.table.count == 405)
        #expect(a.table.rootHash == b.table.rootHash)
        #expect(b.member(Fixture.id(397))?.status == .alive)
        #expect(a.member(Fixture.id(402))?.status == .alive)
        #expect(net.delivered == 4, "digest → buckets → entries → entries")
        // Not everything was shipped: only members of the (at most 10) differing buckets.
        #expect(a.stats.dissemination.syncMembersReceived < 150)
        #expect(b.stats.dissemination.syncMembersReceived < 150)
    }

    @Test func agreeingPeersExchangeOnlyADigest() {
        let a = Fixture.core(0, knows: Array(0..<100))
        let b = Fixture.core(1, knows: Array(0..<100))
        var net = Net([0: a, 1: b])
        net.cores[0]!.startDigest(with: Fixture.member(1).peer)
        net.absorb(net.cores[0]!.flush(), from: 0)
        let digestBytes = net.inFlight.map { Wire.size(of: $0.packet) }.reduce(0, +)
        net.settle()
        #expect(net.delivered == 2, "digest, then inSync")
        #expect(net.cores[0]!.stats.dissemination.syncsInAgreement == 1)
        #expect(digestBytes < 64, "a round between agreeing peers costs a few dozen bytes at any N")
    }

    @Test func joinExchangesFullStateWithTheSeed() {
        let seed = Fixture.core(0, knows: Array(0..<10))
        var joiner = NodeCore(me: Fixture.member(20), settings: .lan, seed: 9, now: .zero)
        _ = joiner.start(now: .zero)
        var net = Net([0: seed, 20: joiner])
        net.absorb(net.cores[20]!.join(seeds: [Fixture.address(0)], now: .zero), from: 20)
        net.settle()
        #expect(net.cores[20]!.table.count == 11)
        #expect(net.cores[20]!.hasJoined)
        #expect(net.cores[0]!.member(Fixture.id(20))?.status == .alive)
        #expect(net.cores[0]!.queue.contains(subject: .member(Fixture.id(20))), "the seed spreads news of the joiner")
    }

    @Test func joinRetriesWithBackoffWhenNoSeedAnswers() {
        var joiner = NodeCore(me: Fixture.member(20), settings: .lan, seed: 9, now: .zero)
        _ = joiner.start(now: .zero)
        _ = joiner.join(seeds: [Fixture.address(99)], now: .zero)
        let first = advance(&joiner, from: .zero, to: Fixture.ms(10_100), stepMs: 100)
        #expect(Fixture.events(first).contains(.joinFailed(attempt: 1, retryIn: .seconds(1))))
        let second = advance(&joiner, from: Fixture.ms(10_100), to: Fixture.ms(21_200), stepMs: 100)
        #expect(Fixture.events(second).contains(.joinFailed(attempt: 2, retryIn: .seconds(2))))
        #expect(Fixture.sends(second).contains { $0.2 == .stream && $0.1.address == Fixture.address(99) })
    }

    @Test func bucketsFoldConsistently() {
        let t = Fixture.table(Array(0..<500))
        #expect(t.bucketHashes(bits: 0) == [t.rootHash])
        let fine = t.bucketHashes(bits: 8)
        let coarse = t.bucketHashes(bits: 4)
        for (i, h) in coarse.enumerated() {
            #expect(h == fine[(i * 16)..<(i * 16 + 16)].reduce(0, ^))
        }
        let members = t.members(inBuckets: Array(0..<16).map(UInt16.init), bits: 4)
        #expect(members.count == 500)
    }

    @Test func tablesAreStructurallySharedAcrossNodes() {
        // Many cores built from one converged table hold the same storage until they write.
        let shared = Fixture.table(Array(0..<1000))
        var a = NodeCore(me: Fixture.member(0), settings: .lan, seed: 1, now: .zero, knownMembers: shared)
        var b = NodeCore(me: Fixture.member(1), settings: .lan, seed: 2, now: .zero, knownMembers: shared)
        _ = a.start(now: .zero)
        _ = b.start(now: .zero)
        #expect(a.table.records == shared.records)
        _ = b.receive(
            Fixture.packet(from: 2, .gossip, [.suspect(id: Fixture.id(3), incarnation: 1, from: Fixture.id(2))]),
            from: Fixture.address(2),
            now: Fixture.ms(1))
        #expect(b.member(Fixture.id(3))?.status == .suspect)
        #expect(a.member(Fixture.id(3))?.status == .alive)
        #expect(shared[Fixture.id(3)]?.member.status == .alive)
    }
}

@Suite(.tags(.node)) struct DeterminismTests {
    @Test func nodeIDHashingDoesNotDependOnTheProcess() {
        // Golden values: if hashing were seeded per process, these would vary between runs,
        // and so would the member table's order and every simulation.
        #expect(
            Fixture.id(1)._rawHashValue(seed: 0) == Int(truncatingIfNeeded: SplitMix64.mix(Fixture.id(1).stableHash)))
        #expect(SplitMix64.mix(0) == 0)
        #expect(SplitMix64.mix(1) == 0x5692_161D_100B_05E5)
        var rng = Xoshiro256(seed: 42)
        let draws = (0..<3).map { _ in rng.next() }
        var again = Xoshiro256(seed: 42)
        #expect(draws == (0..<3).map { _ in again.next() })
    }

    @Test func nodeIDsParseBackFromTheirHexForm() {
        let id = NodeID(high: 0x0123_4567_89AB_CDEF, low: 42)
        #expect(NodeID(hex: id.description) == id)
        #expect(NodeID(hex: "xyz") == nil)
        #expect(NodeID(hex: String(repeating: "g", count: 32)) == nil)
    }

    @Test func tableOrderIsIndependentOfInsertionOrder() {
        var forward = MemberTable()
        var backward = MemberTable()
        for i in 0..<300 { forward.upsert(Fixture.member(i), at: .zero) }
        for i in (0..<300).reversed() { backward.upsert(Fixture.member(i), at: .zero) }
        #expect(forward.allMembers.map(\.id) == backward.allMembers.map(\.id))
        #expect(forward.rootHash == backward.rootHash)
    }

    @Test func probeOrderIsAPermutationEveryRound() {
        var order = ProbeOrder()
        var rng = Xoshiro256(seed: 3)
        for n in [1, 2, 3, 7, 64, 1000] {
            var seen = Set<Int>()
            for _ in 0..<n { seen.insert(order.next(count: n, rng: &rng)) }
            #expect(seen.count == n)
        }
    }

    @Test func pureMathIsAccurate() {
        #expect(abs(PureMath.ln(1)) < 1e-15)
        #expect(abs(PureMath.ln(2.718281828459045) - 1) < 1e-12)
        #expect(abs(PureMath.log10(100) - 2) < 1e-12)
        #expect(abs(PureMath.log10(0.001) + 3) < 1e-12)
        #expect(PureMath.ceilLog10(1) == 0)
        #expect(PureMath.ceilLog10(100) == 2)
        #expect(PureMath.ceilLog10(101) == 3)
        #expect(PureMath.ceilLog2(1) == 0)
        #expect(PureMath.ceilLog2(2) == 1)
        #expect(PureMath.ceilLog2(10_000) == 14)
    }

    @Test func suspicionMinimumFollowsAlphaLog10N() {
        #expect(Settings.lan.suspicionMinimum(members: 100) == .seconds(6))
        #expect(Settings.lan.suspicionMinimum(members: 5) == .seconds(3))
        #expect(Settings.wan.suspicionMinimum(members: 100) == .seconds(60))
        #expect(Settings.lan.pushPullPeriod(members: 10) == .seconds(30))
        #expect(Settings.lan.pushPullPeriod(members: 10_000) == .seconds(300))
        #expect(Settings.lan.stateSyncPeriod(members: 10_000) == .seconds(50))
    }
}

@Suite(.tags(.wire, .hostile)) struct WireDecodingTests {
    @Test func everyPacketRoundTrips() throws {
        for p in WireTests.sample() {
            #expect(try Wire.decode(Wire.encode(p)) == p)
        }
    }

    /// Random valid packets, from a seeded generator (property test).
    @Test func randomPacketsRoundTrip() throws {
        var rng = Xoshiro256(seed: 0xF022)
        for _ in 0..<2_000 {
            let p = RandomPackets.packet(&rng)
            #expect(try Wire.decode(Wire.encode(p)) == p)
        }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = Xoshiro256(seed: 0xBAD)
        var errors = 0
        for _ in 0..<20_000 {
            let n = rng.below(300)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n > 0 && rng.chance(0.5) { bytes[0] = Wire.version }
            if n > 2 && rng.chance(0.5) { bytes[1] = 0 }
            do { _ = try Wire.decode(bytes) } catch { errors += 1 }
        }
        #expect(errors > 19_000, "random bytes are almost never a packet")
    }

    @Test func mutatedPacketsNeverCrashTheDecoder() {
        var rng = Xoshiro256(seed: 0x5EED)
        var decodedOK = 0
        var rejected = 0
        for _ in 0..<5_000 {
            var bytes = Wire.encode(RandomPackets.packet(&rng))
            switch rng.below(4) {
            case 0: bytes[rng.below(bytes.count)] ^= UInt8(1 + rng.below(255))
            case 1: bytes.removeLast(1 + rng.below(bytes.count))
            case 2:
                bytes.append(contentsOf: (0..<(1 + rng.below(8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            default:
                let i = rng.below(bytes.count)
                bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
            }
            do {
                _ = try Wire.decode(bytes)
                decodedOK += 1
            } catch { rejected += 1 }
        }
        #expect(rejected > 2_500)
        #expect(decodedOK + rejected == 5_000)
    }

    @Test(
        arguments: [
            ([], WireError.empty),
            ([9], WireError.unsupportedVersion(9)),
            ([1, 1], WireError.unsupportedFlags(1)),
            ([1, 0, 0, 1, 2], WireError.truncated(offset: 5)),
        ] as [([UInt8], WireError)])
    func typedErrors(bytes: [UInt8], expected: WireError) {
        #expect(throws: expected) { try Wire.decode(bytes) }
    }

    @Test func hugeCountsAreRejectedBeforeAllocating() {
        var bytes = Wire.encode(Fixture.packet(from: 1, .gossip))
        bytes.removeLast() // the update count
        bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] // claims ~4 billion updates
        #expect(throws: WireError.self) { try Wire.decode(bytes) }
        #expect(throws: WireError.trailingBytes(count: 1)) {
            try Wire.decode(Wire.encode(Fixture.packet(from: 1, .gossip)) + [0])
        }
    }
}

enum RandomPackets {
    static func string(_ rng: inout Xoshiro256) -> String {
        let pool = Array("abcxyz-_.:0123456789äö漢")
        return String((0..<rng.below(12)).map { _ in pool[rng.below(pool.count)] })
    }

    static func member(_ rng: inout Xoshiro256) -> Member {
        var tags: [String: String] = [:]
        for _ in 0..<rng.below(3) { tags[string(&rng) + "k"] = string(&rng) }
        return Member(
            id: NodeID(high: rng.next(), low: rng.next()), name: string(&rng),
            address: Address(host: string(&rng), port: UInt16(truncatingIfNeeded: rng.next())), tags: tags,
            incarnation: rng.next() >> UInt64(rng.below(64)), status: MemberStatus(rawValue: UInt8(rng.below(4)))!,
            protocolVersion: UInt8(truncatingIfNeeded: rng.next()))
    }

    static func update(_ rng: inout Xoshiro256) -> Update {
        let id = NodeID(high: rng.next(), low: rng.next())
        switch rng.below(4) {
        case 0: return .alive(member(&rng))
        case 1: return .suspect(id: id, incarnation: rng.next() >> 20, from: NodeID(high: rng.next(), low: 1))
        case 2: return .dead(id: id, incarnation: rng.next() >> 40, from: id)
        default: return .left(id: id, incarnation: UInt64(rng.below(5)))
        }
    }

    static func packet(_ rng: inout Xoshiro256) -> Packet {
        let seq = UInt32(truncatingIfNeeded: rng.next())
        let message: Message
        switch rng.below(6) {
        case 0: message = .ping(seq: seq, target: NodeID(high: rng.next(), low: rng.next()))
        case 1: message = .ack(seq: seq)
        case 2: message = .nack(seq: seq)
        case 3:
            message = .pingReq(
                seq: seq, target: NodeID(high: 1, low: rng.next()), targetAddress: Address(host: string(&rng), port: 1))
        case 4: message = .gossip
        default:
            let bits = UInt8(rng.below(9))
            let syncs: [Sync] = [
                .join(exchange: seq, members: (0..<rng.below(4)).map { _ in member(&rng) }),
                .joinReply(exchange: seq, members: (0..<rng.below(4)).map { _ in member(&rng) }),
                .digest(exchange: seq, root: rng.next(), count: UInt32(rng.below(100_000))),
                .inSync(exchange: seq),
                .buckets(exchange: seq, bits: bits, hashes: (0..<(1 << Int(bits))).map { _ in rng.next() }),
                .entries(
                    exchange: seq, bits: bits,
                    buckets: (0..<rng.below(4)).map { _ in UInt16(rng.below(1 << Int(bits))) },
                    members: (0..<rng.below(3)).map { _ in member(&rng) }, isReply: rng.chance(0.5)),
            ]
            message = .sync(syncs[rng.below(syncs.count)])
        }
        return Packet(
            from: NodeID(high: rng.next(), low: rng.next()), message: message,
            updates: (0..<rng.below(5)).map { _ in update(&rng) })
    }
}
