import ArgumentParser
import ColonyCore
import ColonySimulator
import ColonyTrust
import Foundation

/// `colony fuzz`: the packet decoder and the envelope opener against random and mutated
/// inputs (docs/design.md §6: every decoder is total). Seeded, so a failing input replays. It
/// checks no crash (a trap ends the process with the seed printed first), no hang (the
/// slowest input is reported and must stay under a bound), and bounded memory.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz", abstract: "Fuzz the packet decoder and envelope opener with random and mutated inputs.")

    @Option(help: "How many inputs.") var inputs: Int = 1_000_000
    @Option(help: "64-bit seed, decimal or 0x-hex.") var seed: String = "1"
    @Option(name: .customLong("max-input-ms"), help: "Fail if any one input takes more CPU time than this (a hang).")
    var maxInputMs: Double = 50
    @Option(name: .customLong("max-memory-mb"), help: "Fail if peak memory grows by more than this.") var maxMemoryMB:
        Double = 256
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(
        help: ArgumentHelp(
            "A hostile member against a formed hive instead: --inputs sequences of valid packets with extreme "
                + "values, half signed with the attacker's own key."))
    var adversary = false
    @Option(name: .customLong("hive-nodes"), help: "With --adversary: members of the formed hive.") var hiveNodes = 12

    func run() throws {
        guard let seedValue = Simulate.parseSeed(seed) else { throw ValidationError("--seed must be a 64-bit number") }
        guard inputs > 0 else { throw ValidationError("--inputs must be positive") }
        if adversary { return try runAdversary(seed: seedValue) }
        FileHandle.standardError.write(Data("fuzz seed: \(seed) inputs: \(inputs)\n".utf8))
        var fuzzer = PacketFuzzer(seed: seedValue)
        let memoryBefore = ProcessMemory.residentBytes()
        let clock = ContinuousClock()
        let started = clock.now
        var slowest: Duration = .zero
        for n in 0..<inputs {
            let t0 = ThreadCPUClock.now()
            fuzzer.one()
            let took = ThreadCPUClock.now() - t0
            if took > slowest { slowest = took }
            if n % 100_000 == 0 && n > 0 && !json { FileHandle.standardError.write(Data("  \(n) inputs\n".utf8)) }
        }
        let elapsed = clock.now - started
        let seconds = elapsed.seconds
        let slowestMs = slowest.seconds * 1000
        let grewMB = Double(max(0, ProcessMemory.residentBytes() - memoryBefore)) / 1e6
        let ok = slowestMs <= maxInputMs && grewMB <= maxMemoryMB
        let reasons = fuzzer.outcomes.keys.sorted().map { "\"\($0)\": \(fuzzer.outcomes[$0]!)" }
            .joined(separator: ", ")
        if json {
            let report = FuzzReport(
                inputs: inputs, seed: seed, decoded: fuzzer.decoded, opened: fuzzer.opened, fedToCore: fuzzer.fed,
                outcomes: fuzzer.outcomes, inputsPerSecond: Int(Double(inputs) / seconds),
                slowestInputMs: (slowestMs * 1000).rounded() / 1000, memoryGrowthMB: (grewMB * 10).rounded() / 10,
                passed: ok)
            try Self.printJSON(report)
        } else {
            print(
                "inputs \(inputs) · decoded \(fuzzer.decoded) · opened \(fuzzer.opened) · "
                    + "fed to a core \(fuzzer.fed)")
            print("outcomes: \(reasons)")
            print(
                String(
                    format: "%.0f inputs/s · slowest input %.3f ms · memory growth %.1f MB", Double(inputs) / seconds,
                    slowestMs, grewMB))
            print(
                ok
                    ? "passed: no crash, no hang, bounded memory"
                    : "FAILED: slowest \(slowestMs) ms (limit \(maxInputMs)) or memory +\(grewMB) MB "
                        + "(limit \(maxMemoryMB))"
            )
        }
        if !ok { throw ExitCode(1) }
    }
}

extension FuzzCommand {
    /// One report as one JSON object, keys sorted (both fuzzers' `--json`).
    static func printJSON(_ report: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}

/// What `colony fuzz --json` prints (one object, keys sorted).
struct FuzzReport: Encodable {
    var inputs: Int
    var seed: String
    var decoded: Int
    var opened: Int
    var fedToCore: Int
    var outcomes: [String: Int]
    var inputsPerSecond: Int
    var slowestInputMs: Double
    var memoryGrowthMB: Double
    var passed: Bool
}

/// Builds a corpus of valid packets (every message, sync and update kind; signed and not;
/// plain and sealed), then each input is one of: random bytes, a mutated corpus entry, or a
/// mutated plain packet sealed with the right key (so mutations reach the decoder through
/// the opener). Whatever decodes is fed to an authenticating core, so the signature paths
/// see hostile input too.
struct PacketFuzzer {
    var rng: Xoshiro256
    let key: [UInt8]
    var corpus: [[UInt8]] = []
    var replay = ReplayGuard(windowMs: 60_000, capacity: 4096)
    var core: NodeCore
    var outcomes: [String: Int] = [:]
    var decoded = 0
    var opened = 0
    var fed = 0
    var now = Instant.zero
    /// The wall clock the envelope sees: one millisecond per input.
    var clockMs: UInt64 = 1_000_000

    init(seed: UInt64) {
        rng = Xoshiro256(seed: seed)
        var k: [UInt8] = []
        for _ in 0..<32 { k.append(UInt8(truncatingIfNeeded: rng.next())) }
        key = k
        let me = Member(
            id: NodeID(high: 1, low: 1), name: "fuzz", address: Address(host: "10.0.0.1", port: 7946), incarnation: 1)
        // The hive on, so hive messages reach their handlers, not only the decoder.
        var settings = Settings.lan
        settings.hive.enabled = true
        core = NodeCore(me: me, settings: settings, seed: seed, now: .zero)
        core.authenticate(with: SimAuthenticator(id: me.id, swarmSecret: seed))
        _ = core.start(now: .zero)
        corpus = Self.corpus(seed: seed)
        let plain = corpus
        for p in plain {
            corpus.append(Envelope.seal(p, key: key, sentAtMs: 1_000_000, nonce: (0..<12).map { UInt8($0) }))
        }
    }

    static func corpus(seed: UInt64) -> [[UInt8]] {
        let a = NodeID(high: 2, low: 2)
        let b = NodeID(high: 3, low: 3)
        let signer = SimAuthenticator(id: a, swarmSecret: seed)
        var m = Member(
            id: a, name: "node-a", address: Address(host: "10.0.0.2", port: 7946), tags: ["role": "web", "zone": "a"],
            incarnation: 7)
        m.signature = Signature(publicKey: signer.publicKey, bytes: signer.sign(SignedClaim.alive(m)))
        var r = StateRecord(
            key: "config/x", value: Array("hello".utf8), dot: Dot(origin: a, counter: 5), prev: 3,
            context: CausalContext(), timestamp: HLCTimestamp(physicalMs: 1_750_000_000_000, logical: 2))
        r.signature = Signature(publicKey: signer.publicKey, bytes: signer.sign(SignedClaim.record(r)))
        var e = UserEvent(
            id: Dot(origin: a, counter: 9), lamport: 4, name: "deploy", payload: [1, 2, 3], coalesce: true)
        e.signature = Signature(publicKey: signer.publicKey, bytes: signer.sign(SignedClaim.event(e)))
        var q = Query(
            id: Dot(origin: a, counter: 10), lamport: 5, name: "ping", payload: [],
            filter: QueryFilter(names: ["x"], tags: ["role": "web"]),
            asker: m.address, timeoutMs: 5000)
        q.signature = Signature(publicKey: signer.publicKey, bytes: signer.sign(SignedClaim.query(q)))
        let cell = CellID(0xC311)
        var claim = QueenClaim(
            cell: cell, term: 3, queen: a, address: m.address, serial: 2, size: 12, open: true,
            coordinate: Coordinate(vec: [0.01, 0, 0, 0, 0, 0, 0.02, 0]))
        claim.signature = Signature(publicKey: signer.publicKey, bytes: signer.sign(SignedClaim.queen(claim)))
        let updates: [Update] = [
            .alive(m), .suspect(id: a, incarnation: 7, from: b), .dead(id: a, incarnation: 7, from: b),
            .left(id: a, incarnation: 7, signature: m.signature), .record(r), .event(e), .query(q), .queen(claim),
        ]
        let version = RosterVersion(term: 3, index: 4)
        let voters = [Voter(id: a, boot: 1), Voter(id: b, boot: 2)]
        let hb = Signature(
            publicKey: signer.publicKey,
            bytes: signer.sign(SignedClaim.heartbeat(cell: cell, term: 3, round: 5, version: version, queen: a)))
        let digest = [DigestEntry(origin: a, seen: OriginSeen(base: 4, extras: [6, 9]))]
        let messages: [Message] = [
            .ping(seq: 1, target: b), .ack(seq: 1),
            .ack(seq: 9, coordinate: Coordinate(vec: [0.01, 0, 0, 0, 0, 0, 0.02, 0])), .nack(seq: 2),
            .pingReq(seq: 3, target: b, targetAddress: m.address), .gossip,
            .sync(.join(exchange: 1, members: [m])), .sync(.joinReply(exchange: 1, members: [m, m])),
            .sync(.digest(exchange: 2, root: 99, count: 3)), .sync(.inSync(exchange: 2)),
            .sync(.buckets(exchange: 3, bits: 2, hashes: [1, 2, 3, 4])),
            .sync(.entries(exchange: 3, bits: 2, buckets: [1], members: [m], isReply: true)),
            .sync(.stateRoot(exchange: 4, root: 7)), .sync(.stateDigest(exchange: 4, digest: digest)),
            .sync(.stateRecords(exchange: 4, records: [r], through: [r.dot], complete: true, digest: digest)),
            .sync(.recentEvents(exchange: 5, events: [e])),
            .sync(.eventIDs(exchange: 6, ids: [e.id, q.id], isReply: true)),
            .sync(.missedEvents(exchange: 6, events: [e])),
            .queryResponse(QueryResponse(query: q.id, from: b, name: "node-b", payload: [9])),
            .hive(.preVote(cell: cell, term: 4, version: version, boot: 1)),
            .hive(.preVoteReply(cell: cell, term: 4, granted: true)),
            .hive(.requestVote(cell: cell, term: 4, version: version, boot: 1, signature: hb)),
            .hive(.vote(cell: cell, term: 4, candidate: a, granted: true, boot: 2, signature: hb)),
            .hive(.heartbeat(cell: cell, term: 3, round: 5, version: version, roster: voters, signature: hb)),
            .hive(.heartbeatAck(cell: cell, term: 3, round: 5, version: version, boot: 2, coordinate: nil)),
            .hive(.heartbeatAck(cell: cell, term: 3, round: 21, version: version, boot: 2, coordinate: Coordinate())),
            .hive(.breed(cell: cell, term: 3, newCell: CellID(9), designate: a, voters: voters, signature: hb)),
            .hive(.depose(cell: cell, term: 3, signature: hb)),
            .hive(.pledge(cell: cell, term: 3, queen: a, boot: 2, atMs: 1_700_000_000_000, signature: hb)),
            .hive(.enlist(cell: cell, boot: 2)), .hive(.enlisted(cell: cell, term: 3, accepted: true)),
            .hive(.release(cell: cell, boot: 2)), .hive(.abdicate(cell: cell, term: 3, dissolve: false)),
            .route(scope: .swarm, updates: [.record(r), .event(e), .query(q)]),
            .route(scope: .leaf, updates: [.event(e)]),
            .ihave([.record(r.dot), .event(e.id)]), .graft([.event(e.id)]),
        ]
        var out: [[UInt8]] = []
        for msg in messages {
            out.append(Wire.encode(Packet(from: b, message: msg)))
            out.append(Wire.encode(Packet(from: b, message: msg, updates: updates)))
        }
        for u in updates { out.append(Wire.encode(Packet(from: b, message: .gossip, updates: [u]))) }
        return out
    }

    mutating func one() {
        let input: [UInt8]
        switch rng.below(10) {
        case 0, 1: input = randomBytes(rng.below(1500))
        case 2...6: input = mutate(corpus[rng.below(corpus.count)])
        default:
            // A mutated plain packet, sealed properly: the opener passes it to the decoder.
            let plain = mutate(corpus[rng.below(corpus.count / 2)])
            var nonce: [UInt8] = []
            for _ in 0..<12 { nonce.append(UInt8(truncatingIfNeeded: rng.next())) }
            clockMs += 1
            input = Envelope.seal(plain, key: key, sentAtMs: clockMs - UInt64(rng.below(50)), nonce: nonce)
        }
        var bytes = input
        if Envelope.isSealed(input) {
            do {
                let o = try Envelope.open(input, keys: [key])
                try replay.admit(sentAtMs: o.sentAtMs, nonce: o.nonce, nowMs: clockMs)
                opened += 1
                bytes = o.plain
            } catch {
                outcomes["envelope:" + error.reason, default: 0] += 1
                return
            }
        }
        do {
            let packet = try Wire.decode(bytes)
            decoded += 1
            outcomes["decoded", default: 0] += 1
            now = now + .milliseconds(1)
            // As from a key holder: what it claims under its own id is believed (the deepest reach).
            _ = core.receive(
                packet, from: Address(host: "10.9.9.9", port: 7946), sender: .verified(packet.from), bytes: bytes.count,
                now: now)
            fed += 1
        } catch {
            outcomes["wire:" + error.reason, default: 0] += 1
        }
        _ = try? Wire.decodeUpdate(bytes.dropFirst(min(bytes.count, 20)))
        _ = try? Wire.decodeContext(bytes)
    }

    mutating func randomBytes(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(UInt8(truncatingIfNeeded: rng.next())) }
        return out
    }

    mutating func mutate(_ source: [UInt8]) -> [UInt8] {
        var b = source
        for _ in 0..<(1 + rng.below(4)) {
            switch rng.below(8) {
            case 0 where !b.isEmpty: // flip a bit
                b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8))
            case 1 where !b.isEmpty: // set a byte to an interesting value
                b[rng.below(b.count)] = [0, 1, 0x7F, 0x80, 0xFF, 0xC1][rng.below(6)]
            case 2 where !b.isEmpty: // truncate
                b.removeLast(rng.below(b.count) + 1)
            case 3: // insert random bytes
                b.insert(contentsOf: randomBytes(1 + rng.below(16)), at: rng.below(b.count + 1))
            case 4 where b.count > 1: // delete a range
                let at = rng.below(b.count)
                b.removeSubrange(at..<min(b.count, at + 1 + rng.below(16)))
            case 5: // a run of 0xFF: maximal varints and lengths
                b.insert(contentsOf: [UInt8](repeating: 0xFF, count: 1 + rng.below(10)), at: rng.below(b.count + 1))
            case 6: // splice with another corpus entry
                let other = corpus[rng.below(corpus.count)]
                let cut = rng.below(b.count + 1)
                b = Array(b.prefix(cut)) + Array(other.suffix(rng.below(other.count + 1)))
            default: // duplicate a range
                if !b.isEmpty {
                    let at = rng.below(b.count)
                    b.insert(contentsOf: b[at..<min(b.count, at + 1 + rng.below(32))], at: rng.below(b.count + 1))
                }
            }
        }
        return b
    }
}
