/// The router's rules, decided on the machine alone: the relay's pace, which member gets which
/// relayed broadcasts, and how broadcasts pack into packets. `NodeCore+Routing` finds the
/// targets (roster, queens alive) and sends.
extension Router {
    /// One member a queen relays to: a worker of her cell (`cell`) or another cell's queen.
    struct Target: Sendable {
        var id: NodeID
        var peer: Peer
        var cell: Bool
    }

    /// What one target gets of a relayed lot.
    enum Delivery: Equatable {
        /// The lot packed for it alone: it sent us some of these, which do not go back.
        case own([Update])
        /// The lot packed once for every target of its kind (cell or queens).
        case shared(cell: Bool)
    }

    /// A relayed lot fanned out (Plumtree's eager push): each target gets what is meant for
    /// its kind, less what came from it; targets that sent nothing share one packing. Targets
    /// with nothing to get are left out. In `targets`' order.
    static func fanOut(_ lot: [Relay], to targets: [Target]) -> (
        deliveries: [(target: Target, delivery: Delivery)], forCell: [Update], forQueens: [Update]
    ) {
        let excepts = Set(lot.compactMap(\.except))
        let forCell = lot.filter(\.toCell)
        let forQueens = lot.filter(\.toQueens)
        var deliveries: [(target: Target, delivery: Delivery)] = []
        for t in targets {
            let wanted = t.cell ? forCell : forQueens
            if excepts.contains(t.id) {
                let mine = wanted.filter { $0.except != t.id }.map(\.update)
                if !mine.isEmpty { deliveries.append((t, .own(mine))) }
                continue
            }
            guard !wanted.isEmpty else { continue }
            deliveries.append((t, .shared(cell: t.cell)))
        }
        return (deliveries, forCell.map(\.update), forQueens.map(\.update))
    }

    /// Whether the paced relay may send now: `.zero` if a token was taken (send at once), else
    /// how long until one is due (`rate` lots a second, bursts of `burst`).
    mutating func pace(rate: Double, burst: Double, now: Instant) -> Duration {
        var bucket = relayBucket ?? TokenBucket(burst: burst, at: now)
        let wait = bucket.wait(for: 1, rate: rate, burst: burst, now: now)
        if wait == .zero { _ = bucket.take(1, rate: rate, burst: burst, now: now) }
        relayBucket = bucket
        return wait
    }

    /// Routed broadcasts packed into datagrams of at most `maxDatagramBytes` (one too large
    /// for a datagram goes alone by stream), in order, each with how many broadcasts it holds.
    static func pack(
        _ scope: RouteScope, _ items: [Update], from me: NodeID, maxDatagramBytes: Int
    ) -> [(packet: Packet, via: Transport, items: Int)] {
        let header = Wire.size(of: Packet(from: me, message: .route(scope: scope, updates: []))) + 4
        var out: [(packet: Packet, via: Transport, items: Int)] = []
        var batch: [Update] = []
        var bytes = header
        func packet(_ us: [Update]) -> Packet { Packet(from: me, message: .route(scope: scope, updates: us)) }
        for u in items {
            let size = Wire.size(of: u)
            if header + size > maxDatagramBytes {
                out.append((packet([u]), .stream, 1))
                continue
            }
            if bytes + size > maxDatagramBytes {
                out.append((packet(batch), .datagram, batch.count))
                batch = []
                bytes = header
            }
            batch.append(u)
            bytes += size
        }
        if !batch.isEmpty { out.append((packet(batch), .datagram, batch.count)) }
        return out
    }
}
