import Testing

@testable import ColonyCore

/// Causal contexts on the wire (issue 18: decoders linear in their input): what an honest node
/// encodes decodes to the same context; anything out of canonical order is refused; and a
/// hostile context of hundreds of thousands of entries decodes in time linear in its size.
@Suite(.tags(.hostile, .wire)) struct ContextDecodingTests {
    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func everyContextAnHonestNodeBuildsRoundTrips(seed: UInt64) throws {
        var rng = Xoshiro256(seed: seed)
        var c = CausalContext()
        for _ in 0..<rng.below(60) {
            let origin = Fixture.id(rng.below(12))
            let counter = UInt64(1 + rng.below(40))
            c.add(Dot(origin: origin, counter: counter), prev: UInt64(rng.below(Int(counter))))
            if rng.chance(0.2) {
                var other = CausalContext()
                other.add(Dot(origin: Fixture.id(rng.below(12)), counter: UInt64(1 + rng.below(40))), prev: 0)
                c.merge(other)
            }
        }
        let decoded = try Wire.decodeContext(Wire.encode(context: c))
        #expect(decoded == c, "seed \(seed)")
    }

    /// Writes a context's wire form by hand: base (origin, counter) pairs, then cloud entries.
    func encoded(base: [(Int, UInt64)], cloud: [(Int, UInt64, UInt64)] = []) -> [UInt8] {
        var w: [UInt8] = []
        w.varint(UInt64(base.count))
        for (o, n) in base {
            w.nodeID(Fixture.id(o))
            w.varint(n)
        }
        w.varint(UInt64(cloud.count))
        for (o, n, prev) in cloud {
            w.dot(Dot(origin: Fixture.id(o), counter: n))
            w.varint(prev)
        }
        return w
    }

    @Test func outOfOrderOrFoldableEntriesAreRefused() throws {
        #expect(try Wire.decodeContext(encoded(base: [(1, 3), (2, 5)], cloud: [(1, 6, 4)])).count == 3)
        let refused: [(String, [UInt8])] = [
            ("base unsorted", encoded(base: [(2, 5), (1, 3)], cloud: [])),
            ("base repeated", encoded(base: [(1, 3), (1, 4)], cloud: [])),
            ("cloud unsorted", encoded(base: [], cloud: [(1, 9, 7), (1, 6, 4)])),
            ("cloud repeated", encoded(base: [], cloud: [(1, 6, 4), (1, 6, 4)])),
            ("cloud covered by the base", encoded(base: [(1, 7)], cloud: [(1, 6, 4)])),
            ("cloud that should have folded", encoded(base: [(1, 4)], cloud: [(1, 6, 4)])),
        ]
        for (what, bytes) in refused {
            #expect(throws: WireError.self, "\(what)") { try Wire.decodeContext(bytes) }
        }
    }

    /// The old decoder inserted each entry into a sorted array: a hostile frame of entries in
    /// reverse order took time quadratic in its size (minutes for 16 MiB). Now four times the
    /// entries take about four times as long (bounded by 8x to absorb a noisy machine), and a
    /// reversed order is refused at its second entry.
    /// The i-th of a chain of one origin's writes none of which folds (each one's predecessor
    /// is a write the context has not seen).
    func chained(_ i: Int) -> (Int, UInt64, UInt64) {
        let counter = UInt64(i) * 2 + 3
        return (1, counter, counter - 1)
    }

    @Test func decodingIsLinearInTheInput() throws {
        func sorted(_ n: Int) -> [UInt8] {
            encoded(base: [], cloud: (0..<n).map(chained))
        }
        func time(_ bytes: [UInt8]) throws -> Swift.Duration {
            var best = Swift.Duration.seconds(1_000)
            for _ in 0..<3 {
                let t0 = ContinuousClock.now
                _ = try Wire.decodeContext(bytes)
                best = min(best, ContinuousClock.now - t0)
            }
            return best
        }
        let small = try time(sorted(50_000))
        let large = try time(sorted(200_000))
        #expect(large < small * 8, "200k entries took \(large), 50k took \(small)")
        let reversed = encoded(base: [], cloud: (0..<200_000).reversed().map(chained))
        var reason: String?
        do throws(WireError) {
            _ = try Wire.decodeContext(reversed)
        } catch {
            reason = error.reason
        }
        #expect(reason == "order", "a reversed context is refused as out of order")
    }
}
