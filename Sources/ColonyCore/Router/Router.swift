/// Routing broadcasts through the queens (docs/design.md §5), after Plumtree (Leitão et al.
/// 2007): the eager-push tree, lazy push of ids and graft, the cache that answers grafts,
/// and the paced relay. Handlers: `NodeCore+Routing`, `NodeCore+LazyPush`.
struct Router: Sendable {
    enum Timer: Sendable, Equatable {
        /// Pull announced ids that did not arrive.
        case graft
        /// Send what waits to go up or down the tree (paced).
        case relay
    }

    /// A broadcast a queen relays: to her cell, to the other queens, not back to `except`.
    struct Relay: Sendable {
        var update: Update
        var except: NodeID?
        var toCell: Bool
        var toQueens: Bool
    }

    // The tree: ids to announce, ids announced to us and not received, the cache.
    /// What this machine counts (exported through `NodeCore.stats`).
    var stats = RouterStats()
    var announce: [BroadcastID] = []
    var missing: [BroadcastID: (from: Peer, at: Instant)] = [:]
    var missingOrder: [BroadcastID] = []
    var graftArmed = false
    var routed: [BroadcastID: Update] = [:]
    var routedOrder: [BroadcastID] = []
    var routedHead = 0
    /// Claims waiting for the next gossip round: to send up (a worker's) or to the cell and
    /// the other queens (a queen's), and to the cell only. The newest per cell.
    var claimsUp: [CellID: QueenClaim] = [:]
    var claimsDown: [CellID: QueenClaim] = [:]
    /// Queen: broadcasts waiting for the next paced send (see `paceRelay`), and its budget.
    var relay: [Relay] = []
    var relayArmed = false
    var relayBucket: TokenBucket?
    /// Broadcasts to route up to our queen, sent when the input's effects are flushed.
    var routeOutbox: [Update] = []
}

extension Router {
    /// Keep `update` to answer grafts for `id`; the oldest go once more than `capacity` are
    /// held. A broadcast held already keeps its place (and its first copy's position).
    mutating func remember(_ id: BroadcastID, _ update: Update, capacity: Int) {
        guard routed.updateValue(update, forKey: id) == nil else { return }
        routedOrder.append(id)
        if routedOrder.count - routedHead > capacity {
            routed[routedOrder[routedHead]] = nil
            routedHead += 1
            if routedHead > 4096 {
                routedOrder.removeFirst(routedHead)
                routedHead = 0
            }
        }
    }
}

/// Where news being applied came from (for routing).
enum Ingress: Equatable {
    /// Our own broadcast, or news from gossip or anti-entropy: route it up.
    case local
    /// Pushed down the tree to us with this scope.
    case tree(RouteScope)
    /// An answer to a graft: keep it.
    case leaf
}
