@testable import ColonyCore

/// Builds members and cores for tests, and shuttles packets between cores with no network
/// in between: tests drive the core directly, as STYLE.md asks.
enum Fixture {
    static func id(_ i: Int) -> NodeID { NodeID(high: UInt64(i), low: SplitMix64.mix(UInt64(i) &+ 77)) }
    static func address(_ i: Int) -> Address { Address(host: "10.0.0.\(i)", port: 7946) }
    static func member(_ i: Int, incarnation: UInt64 = 1, status: MemberStatus = .alive) -> Member {
        Member(id: id(i), name: "n\(i)", address: address(i), incarnation: incarnation, status: status)
    }
    static func ms(_ v: Int64) -> Instant { .milliseconds(v) }

    static func table(_ members: [Int]) -> MemberTable {
        var t = MemberTable()
        for i in members { t.upsert(member(i), at: .zero) }
        return t
    }

    /// A started core for node `i` that knows `members` (all alive at incarnation 1).
    static func core(_ i: Int, knows members: [Int], settings: Settings = .lan, seed: UInt64 = 1) -> NodeCore {
        var c = NodeCore(me: member(i), settings: settings, seed: seed, now: .zero, knownMembers: table(members))
        _ = c.start(now: .zero)
        return c
    }

    static func sends(_ effects: [Effect]) -> [(Packet, Peer, Transport)] {
        effects.compactMap { if case .send(let p, let to, let via) = $0 { (p, to, via) } else { nil } }
    }

    static func events(_ effects: [Effect]) -> [Event] {
        effects.compactMap { if case .emit(let e) = $0 { e } else { nil } }
    }

    static func changes(_ effects: [Effect]) -> [Member] {
        events(effects).compactMap { if case .memberChanged(let m, _) = $0 { m } else { nil } }
    }

    static func packet(from i: Int, _ message: Message, _ updates: [Update] = []) -> Packet {
        Packet(from: id(i), message: message, updates: updates)
    }
}

/// A lossless in-memory network of cores keyed by node index, for exchanges between nodes.
/// Nodes can be cut off (`isolated`), packets dropped or changed (`filter`), and an invariant
/// checked after every step (`check`).
struct Net {
    var cores: [Int: NodeCore]
    var now: Instant = .zero
    var inFlight: [(to: Int, from: Int, packet: Packet, via: Transport)] = []
    var delivered = 0
    /// Nodes cut off from everyone (each a partition of one).
    var isolated: Set<Int> = []
    /// Sees each packet (from, to) before delivery: returns it, or a changed one, or nil to drop it.
    var filter: ((Int, Int, Packet) -> Packet?)?
    /// Every event the cores emitted, in order.
    var events: [(node: Int, at: Instant, event: Event)] = []
    /// Every packet delivered since `beginRecording()` (not kept before: long runs stay small).
    var packets: [(from: Int, to: Int, packet: Packet, via: Transport)] = []
    var recordingPackets = false
    /// Run after every step of `run`; what it returns is kept in `stepViolations`.
    var check: ((Net) -> [String])?
    var stepViolations: [String] = []

    init(_ cores: [Int: NodeCore]) { self.cores = cores }

    func index(of peer: Peer) -> Int? {
        if let id = peer.id { return cores.keys.first { Fixture.id($0) == id } }
        return cores.keys.first { Fixture.address($0) == peer.address }
    }

    /// Forget the events so far and keep every packet delivered from now on.
    mutating func beginRecording() {
        events = []
        packets = []
        recordingPackets = true
    }

    /// The events `node` emitted, in order.
    func events(at node: Int) -> [Event] { events.filter { $0.node == node }.map(\.event) }

    mutating func absorb(_ effects: [Effect], from i: Int) {
        for e in effects {
            switch e {
            case .send(let p, let to, let via):
                if let j = index(of: to) { inFlight.append((j, i, p, via)) }
            case .emit(let ev):
                events.append((i, now, ev))
            case .persist, .wake:
                break
            }
        }
    }

    /// Deliver packets until none are in flight (at most `maxPackets` in this call).
    mutating func settle(maxPackets: Int = 10_000) {
        var count = 0
        while !inFlight.isEmpty && count < maxPackets {
            let m = inFlight.removeFirst()
            count += 1
            delivered += 1
            guard cores[m.to] != nil, !isolated.contains(m.to), !isolated.contains(m.from) else { continue }
            var packet = m.packet
            if let filter {
                guard let p = filter(m.from, m.to, packet) else { continue }
                packet = p
            }
            if recordingPackets { packets.append((m.from, m.to, packet, m.via)) }
            // What the gate proves: the packet came from the core that sent it.
            let sender: PacketSender = cores[m.to]!.authenticates ? .verified(Fixture.id(m.from)) : .unverified
            let effects = cores[m.to]!.receive(
                packet, from: Fixture.address(m.from), sender: sender, via: m.via, now: now)
            absorb(effects, from: m.to)
        }
    }

    /// Advance time in steps, ticking every core and delivering everything sent.
    mutating func run(until end: Instant, step: Int64 = 50) {
        while now < end {
            now = now.advanced(byNanoseconds: step * 1_000_000)
            for i in cores.keys.sorted() {
                let effects = cores[i]!.tick(now: now)
                absorb(effects, from: i)
            }
            settle()
            if let check { stepViolations += check(self) }
        }
    }
}

extension NodeCore {
    /// A packet from an honest sender: verified as whom it claims on a core with an identity
    /// (what the driver's gate proves for an honest peer), taken on trust on one without.
    /// Tests of forgery pass `sender:` themselves.
    mutating func receive(
        _ packet: Packet, from source: Address, via transport: Transport = .datagram, bytes: Int = 0, now: Instant
    ) -> [Effect] {
        receive(
            packet, from: source, sender: authenticates ? .verified(packet.from) : .unverified, via: transport,
            bytes: bytes, now: now)
    }

    /// As `rejected(sender:from:now:)` without an identity proven.
    mutating func rejected(from address: Address, now: Instant) -> [Effect] {
        rejected(sender: .unverified, from: address, now: now)
    }
}

/// A driver whose log commits at once: the command, then its report that the command's own
/// write or event is durable (what a driver does once the commit succeeds), the effects of
/// both in order.
extension NodeCore {
    mutating func durablePut(
        _ key: String, value: [UInt8]?, context: CausalContext? = nil, wallMs: UInt64, now: Instant
    ) -> (Result<StateRecord, StateError>, [Effect]) {
        let (result, effects) = put(key, value: value, context: context, wallMs: wallMs, now: now)
        guard case .success(let r) = result else { return (result, effects) }
        return (result, effects + recordsDurable(through: r.dot.counter, now: now))
    }

    mutating func durableEvent(_ name: String, payload: [UInt8], coalesce: Bool = false, now: Instant) -> (
        Result<UserEvent, StateError>, [Effect]
    ) {
        let (result, effects) = event(name, payload: payload, coalesce: coalesce, now: now)
        guard case .success(let e) = result else { return (result, effects) }
        return (result, effects + eventsDurable(through: e.id.counter, now: now))
    }
}
