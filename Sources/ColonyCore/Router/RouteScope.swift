/// How far a routed broadcast travels from the receiver (the eager-push tree, Plumtree-like).
package enum RouteScope: UInt8, Sendable, Equatable {
    /// To a queen from her worker: forward to the cell and to every other queen.
    case swarm = 0
    /// From a queen: a queen forwards it to her workers; a worker keeps it.
    case cell = 1
    /// An answer to a graft: keep it, forward nothing.
    case leaf = 2
}

/// The id of a routed broadcast, announced lazily (Plumtree's IHAVE) and pulled by graft.
package enum BroadcastID: Hashable, Sendable {
    case record(Dot)
    case event(Dot)
    /// A queen's claim: the directory entry of `cell` at `(term, serial)`. Routed like any
    /// broadcast once the hive stands, so a claim costs about one message per member rather
    /// than gossip's retransmissions to all (claims are what grows with the swarm: one
    /// cell per few dozen members, each refreshing its claim).
    case claim(cell: CellID, term: UInt64, serial: UInt64)

    init?(_ u: Update) {
        switch u {
        case .record(let r): self = .record(r.dot)
        case .event(let e): self = .event(e.id)
        case .query(let q): self = .event(q.id)
        case .queen(let c): self = .claim(cell: c.cell, term: c.term, serial: c.serial)
        case .alive, .suspect, .dead, .left: return nil
        }
    }
}
