import ColonyCore

/// The simulator's `Authenticator`: a keyed hash only the true origin can compute. The
/// "public key" names the node id; the verifier recomputes with the origin's secret, which
/// only the simulator knows. A forger signs with its own secret, so its signatures for
/// anyone else fail — unforgeability, modelled, at a fraction of Ed25519's cost.
public struct SimAuthenticator: Authenticator {
    public let id: NodeID
    let swarmSecret: UInt64

    public init(id: NodeID, swarmSecret: UInt64) {
        self.id = id
        self.swarmSecret = swarmSecret
    }

    public var publicKey: [UInt8] { Self.publicKey(for: id) }

    public static func publicKey(for id: NodeID) -> [UInt8] { id.bytes + [UInt8](repeating: 0, count: 16) }

    public func nodeID(for publicKey: [UInt8]) -> NodeID {
        // The unused half must be zero, so one id has exactly one key.
        guard publicKey.count == 32, publicKey[16...].allSatisfy({ $0 == 0 }), let id = NodeID(bytes: publicKey) else {
            return NodeID(high: 0, low: 0)
        }
        return id
    }

    public func sign(_ message: [UInt8]) -> [UInt8] { Self.mac(secret: secret(of: id), message) }

    public func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        signature == Self.mac(secret: secret(of: nodeID(for: publicKey)), message)
    }

    func secret(of id: NodeID) -> UInt64 { SplitMix64.mix(swarmSecret ^ id.stableHash) }

    static func mac(secret: UInt64, _ message: [UInt8]) -> [UInt8] {
        var h = secret ^ 0xCBF2_9CE4_8422_2325
        for b in message { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        var out: [UInt8] = []
        out.reserveCapacity(64)
        var x = SplitMix64.mix(h ^ UInt64(message.count))
        for _ in 0..<8 {
            x = SplitMix64.mix(x &+ secret)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: x >> UInt64(s))) }
        }
        return out
    }
}

/// How a simulated node behaves.
public enum Behaviour: String, Sendable, CaseIterable {
    case honest
    /// Sends far more packets than any honest member (valid ones: only the rate shows it).
    case flooder
    /// Sends claims, records and events in other members' names, signed with its own key.
    case forger
    /// Takes and gives nothing: ignores ping-reqs and relays no gossip.
    case freeloader
}

extension Simulation.Context {
    /// Links broken both ways: 5% of pairs, and at least about three per node in small
    /// swarms, so probes go indirect often. Keys are `Self.link(a, b)`.
    mutating func randomBrokenLinks() -> Set<UInt64> {
        var broken: Set<UInt64> = []
        let brokenPerMille = max(50, 3000 / (n - 1))
        for a in 0..<n {
            for b in (a + 1)..<n where rng.below(1000) < brokenPerMille { broken.insert(Self.link(a, b)) }
        }
        return broken
    }

    static func link(_ a: Int, _ b: Int) -> UInt64 { UInt64(min(a, b)) << 32 | UInt64(max(a, b)) }

    /// Node `o` floods: 2,000 valid packets a second (its own alive claim) at `targets` in
    /// turn, in 10 ms bursts, from `start` until `end`.
    func scheduleFlood(from o: Int, at targets: [Int], start: Int64, end: Int64) {
        let id = sim.nodes[o].id
        var t = start
        while t < end {
            sim.schedule(at: t) { s in
                guard let core = s.nodes[o].core else { return }
                for k in 0..<20 {
                    s.inject(
                        Packet(from: id, message: .gossip, updates: [.alive(core.me)]), from: o,
                        to: targets[k % targets.count])
                }
            }
            t += 10_000_000
        }
    }

    /// Node `o` forges: every `period` (from a random point in the first) until `end`, to a
    /// random honest member it can reach, the updates `forge(simulator, victim, serial)`
    /// makes in a random honest victim's name (serials from 1; nil: nothing sent).
    mutating func scheduleForgeries(
        from o: Int, honest: [Int], reachable: (Int, Int) -> Bool, start: Int64, end: Int64, period: Int64,
        forge: @escaping (Simulator, Int, UInt64) -> [Update]?
    ) {
        let id = sim.nodes[o].id
        var t = start + Int64(rng.below(Int(period)))
        var serial: UInt64 = 0
        while t < end {
            let near = honest.filter { reachable($0, o) }
            let target = near[rng.below(near.count)]
            let victim = honest[rng.below(honest.count)]
            serial += 1
            let k = serial
            sim.schedule(at: t) { s in
                guard let updates = forge(s, victim, k) else { return }
                s.inject(Packet(from: id, message: .gossip, updates: updates), from: o, to: target)
            }
            t += period
        }
    }
}

extension Simulator {
    /// A record in `victim`'s name, signed with `forger`'s own key (number `serial`).
    func forgedRecord(by forger: Int, victim: Int, serial: UInt64) -> StateRecord {
        let signer = SimAuthenticator(id: nodes[forger].id, swarmSecret: seed)
        var record = StateRecord(
            key: "forged/\(serial)", value: [1], dot: Dot(origin: nodes[victim].id, counter: 1 << 30 + serial),
            prev: 0, context: CausalContext(), timestamp: HLCTimestamp(physicalMs: wallMs(forger), logical: 0))
        record.signature = Signature(
            publicKey: SimAuthenticator.publicKey(for: nodes[victim].id), bytes: signer.sign(SignedClaim.record(record))
        )
        return record
    }
}
