import ColonyCore
import ColonyNIO
import Foundation
import Hummingbird

/// `GET /v1/hive`: this node's place in the hive and every cell it knows (docs/design.md §5).
public struct HiveJSON: ResponseCodable, Equatable, Sendable {
    public struct NodeJSON: Codable, Equatable, Sendable {
        public var id: String
        public var name: String
        /// homeless, worker, preCandidate, candidate or queen.
        public var role: String
        public var cell: String?
        public var term: UInt64
        public var queen: String?
        public var queenName: String?
        /// Queen only: she holds the lease now.
        public var leaseHeld: Bool
        /// Broadcasts go through the queens' tree (false: plain gossip).
        public var routing: Bool
        /// The cell's voters (names), as this node's roster has them.
        public var voters: [String]
        public var rosterVersion: String?
    }

    public struct CellJSON: Codable, Equatable, Sendable {
        public var cell: String
        public var queen: String
        public var queenName: String?
        public var term: UInt64
        public var size: UInt32
        public var open: Bool
        public var address: String
        /// Estimated round trip from this node to the queen (coordinates), milliseconds.
        public var rttMs: Double?
    }

    public var node: NodeJSON
    public var cells: [CellJSON]
    /// Evictions in force (as `GET /v1/hive/evictions`).
    public var evictions: [EvictionJSON]?
}

/// `GET /v1/hive/evictions`: an identity every member refuses until `expiresMs` (wall
/// clock, ms since the epoch) unless lifted.
public struct EvictionJSON: ResponseCodable, Equatable, Sendable {
    public var id: String
    public var name: String?
    /// The queen that issued it, her cell and term.
    public var issuer: String
    public var issuerName: String?
    public var cell: String
    public var term: UInt64
    /// reputation (accused by members whose scores add up below the threshold) or revoked.
    public var reason: String
    /// The accusers (names where known).
    public var accusers: [String]
    public var atMs: UInt64
    public var expiresMs: UInt64
}

/// `POST /v1/hive/lift?id=NODE`: the evictions lifted here, or whose issuers were asked.
public struct LiftJSON: ResponseCodable, Equatable, Sendable {
    public struct Issuer: Codable, Equatable, Sendable {
        public var issuer: String
        public var issuerName: String?
        /// This agent issued it and lifted it (false: the request went to the issuer).
        public var local: Bool
    }

    public var id: String
    public var lifted: [Issuer]
}

func evictionJSON(_ e: Eviction, names: [NodeID: String]) -> EvictionJSON {
    EvictionJSON(
        id: e.id.description, name: names[e.id], issuer: e.issuer.description, issuerName: names[e.issuer],
        cell: e.cell.description, term: e.term, reason: e.reason,
        accusers: e.accusations.map { names[$0.accuser] ?? $0.accuser.description }, atMs: e.atMs,
        expiresMs: e.expiresMs)
}

/// `POST /v1/hive/depose[?cell=HEX]`: the queen deposed (or the order sent to her).
public struct DeposeJSON: ResponseCodable, Equatable, Sendable {
    public var cell: String
    public var term: UInt64
    public var queen: String
    public var queenName: String?
    /// This agent was the queen and abdicated (false: the order went to her).
    public var local: Bool
}

func memberNames(_ node: ColonyNode) async -> [NodeID: String] {
    var names: [NodeID: String] = [:]
    for m in await node.members() { names[m.id] = m.name }
    return names
}

/// Evictions: the list, and lifting one.
func addEvictionRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    router.get("/v1/hive/evictions") { _, _ -> [EvictionJSON] in
        let names = await memberNames(node)
        return await node.evictions().map { evictionJSON($0, names: names) }
    }

    router.post("/v1/hive/lift") { request, _ -> LiftJSON in
        guard let text = request.uri.queryParameters.get("id") else {
            throw HTTPError(
                .badRequest, message: "name the evicted node: ?id=NODE_ID (colony hive evictions lists them)")
        }
        guard let id = NodeID(hex: String(text)) else {
            throw HTTPError(.badRequest, message: "id must be a node id, 32 hex digits (got '\(text)')")
        }
        let orders = try OrderParameter.liftOrders(request)
        do {
            let lifted = try await node.liftEviction(id, orders: orders)
            let names = await memberNames(node)
            let me = await node.hive().me
            return LiftJSON(
                id: id.description,
                lifted: lifted.map {
                    .init(issuer: $0.issuer.description, issuerName: names[$0.issuer], local: $0.issuer == me)
                })
        } catch let e as LiftError {
            if case .notEvicted = e { throw HTTPError(.notFound, message: e.description) }
            if case .order = e { throw HTTPError(.forbidden, message: e.description) }
            throw HTTPError(.conflict, message: e.description)
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
    }

}

/// The hive: its view, and deposing a queen.
func addHiveRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    router.post("/v1/hive/depose") { request, _ -> DeposeJSON in
        var cell: CellID?
        if let text = request.uri.queryParameters.get("cell") {
            guard let raw = UInt64(text, radix: 16) else {
                throw HTTPError(.badRequest, message: "cell must be a cell id in hex (got '\(text)')")
            }
            cell = CellID(raw)
        }
        let order = try OrderParameter.order(request)
        do {
            let d = try await node.deposeQueen(cell: cell, order: order)
            let name = await node.members().first { $0.id == d.queen }?.name
            return DeposeJSON(
                cell: d.cell.description, term: d.term, queen: d.queen.description, queenName: name, local: d.local)
        } catch let e as DeposeError {
            if case .order = e { throw HTTPError(.forbidden, message: e.description) }
            throw HTTPError(.conflict, message: e.description)
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
    }

    router.get("/v1/hive") { _, _ -> HiveJSON in
        let view = await node.hive()
        let members = await node.members()
        let (mine, _) = await node.coordinates()
        var names: [NodeID: String] = [:]
        var live: Set<NodeID> = []
        for m in members {
            names[m.id] = m.name
            if m.status.isLive { live.insert(m.id) }
        }
        let s = view.state
        let me = view.me
        let nodeJSON = HiveJSON.NodeJSON(
            id: me?.description ?? "", name: me.flatMap { names[$0] } ?? "", role: s.role.rawValue,
            cell: s.cell?.description, term: s.term, queen: s.queen?.description,
            queenName: s.queen.flatMap { names[$0] },
            leaseHeld: view.holdsLease, routing: view.routing,
            voters: (s.roster?.voters ?? []).map { names[$0.id] ?? $0.id.description },
            rosterVersion: s.roster.map { $0.version.description })
        let cells = s.cells.keys.sorted().compactMap { id -> HiveJSON.CellJSON? in
            let c = s.cells[id]!
            guard !c.dissolved, live.contains(c.queen) else { return nil }
            return HiveJSON.CellJSON(
                cell: id.description, queen: c.queen.description, queenName: names[c.queen], term: c.term,
                size: c.size, open: c.open, address: c.address.description,
                rttMs: c.queen == me ? 0 : mine.distance(to: c.coordinate) * 1000)
        }
        return HiveJSON(
            node: nodeJSON, cells: cells, evictions: await node.evictions().map { evictionJSON($0, names: names) })
    }
}
