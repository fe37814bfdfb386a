import ArgumentParser
import ColonyAgent
import ColonyCore
import ColonyTrust
import Foundation
import NIOHTTP1

/// `colony hive`: the cells, queens, terms and loads the local agent knows, and its own
/// place among them; `colony hive depose` replaces a queen.
struct HiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hive", abstract: "Show the hive (cells, queens, terms and loads), or depose a queen.",
        subcommands: [HiveShow.self, HiveDepose.self, HiveEvictions.self, HiveLift.self],
        defaultSubcommand: HiveShow.self)
}

/// `colony hive depose [--cell CELL]`: the queen of the cell (default: the local agent's)
/// abdicates and sits out the next elections; her cell elects another.
struct HiveDepose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depose", abstract: "Make a queen abdicate; her cell elects another.")
    @OptionGroup var http: HTTPOption
    @Option(help: "The cell whose queen to depose (hex, as `colony hive` shows it). Default: the agent's own cell.")
    var cell: String?
    @Option(
        name: .customLong("operator"),
        help: "The operator's key directory (as `colony cert authority init` makes): sign the deposal as an order.")
    var operatorDirectory: String?

    func run() async throws {
        var query: [String] = []
        if let cell {
            guard UInt64(cell, radix: 16) != nil else {
                throw ValidationError("--cell must be a cell id in hex, as `colony hive` shows it")
            }
            query.append("cell=\(cell)")
        }
        if let operatorDirectory {
            let signer = try loadOperator(operatorDirectory)
            // The order names the reign: the cell and its queen's term, as the agent knows them.
            let hive = try await http.fetch("/v1/hive", as: HiveJSON.self)
            let target = cell ?? hive.node.cell
            guard let target, let raw = UInt64(target, radix: 16) else {
                throw ValidationError("the agent is in no cell: name one with --cell (colony hive shows them)")
            }
            let term =
                target == hive.node.cell && hive.node.role == "queen"
                ? hive.node.term : hive.cells.first { $0.cell == target }?.term ?? hive.node.term
            query.append("order=\(OrderParameter.encode(signer.sign(.depose(cell: CellID(raw), term: term))))")
        }
        let path = "/v1/hive/depose" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let d = try await http.fetch(.POST, path, as: DeposeJSON.self)
        if d.local {
            print(
                "deposed: this node was queen of cell \(d.cell) in term \(d.term) and abdicated; "
                    + "the cell elects another"
            )
        } else {
            print("depose order sent to \(d.queenName ?? d.queen), queen of cell \(d.cell) in term \(d.term)")
        }
    }
}

/// `colony hive evictions`: the identities every member refuses now, who evicted them, why
/// and until when.
struct HiveEvictions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evictions", abstract: "List the evictions in force.")
    @OptionGroup var http: HTTPOption
    @Flag(help: "Print the agent's JSON.") var json = false

    func run() async throws {
        if json { return try await http.call(.GET, "/v1/hive/evictions") }
        let list = try await http.fetch("/v1/hive/evictions", as: [EvictionJSON].self)
        guard !list.isEmpty else {
            print("no evictions in force")
            return
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let rows = list.map { e in
            [
                e.name ?? e.id, e.id, e.reason, e.issuerName ?? e.issuer,
                "\(max(0, Int64(e.expiresMs) - Int64(now)) / 1000) s", e.accusers.joined(separator: ","),
            ]
        }
        printTable([["NAME", "ID", "REASON", "ISSUER", "EXPIRES IN", "ACCUSERS"]] + rows)
    }
}

/// `colony hive lift NODE`: end a member's evictions now (it may return at once).
struct HiveLift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lift", abstract: "Lift the evictions of a member (by name or node id).")
    @OptionGroup var http: HTTPOption
    @Argument(help: "The evicted member: its name or node id, as `colony hive evictions` shows them.")
    var node: String
    @Option(
        name: .customLong("operator"),
        help: "The operator's key directory (as `colony cert authority init` makes): sign the lift as orders.")
    var operatorDirectory: String?

    func run() async throws {
        var id = node
        let list = try await http.fetch("/v1/hive/evictions", as: [EvictionJSON].self)
        if NodeID(hex: node) == nil {
            guard let e = list.first(where: { $0.name == node }) else {
                throw ValidationError(
                    "no eviction in force for a member named '\(node)' (colony hive evictions lists them)")
            }
            id = e.id
        }
        var path = "/v1/hive/lift?id=\(id)"
        if let operatorDirectory, let evicted = NodeID(hex: id) {
            // One order per eviction: each names its issuer and issue time.
            let signer = try loadOperator(operatorDirectory)
            for e in list where e.id == id {
                guard let issuer = NodeID(hex: e.issuer) else { continue }
                let s = signer.sign(.lift(evicted: evicted, issuer: issuer, atMs: e.atMs))
                path += "&order=\(e.issuer):\(OrderParameter.encode(s))"
            }
        }
        let r = try await http.fetch(.POST, path, as: LiftJSON.self)
        for l in r.lifted {
            if l.local {
                print("lifted: this node's eviction of \(node) is lifted; it may return now")
            } else {
                print("lift request sent to \(l.issuerName ?? l.issuer), who evicted \(node)")
            }
        }
    }
}

struct HiveShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the hive: cells, queens, terms and loads.")
    @OptionGroup var http: HTTPOption
    @Flag(help: "Print the agent's JSON.") var json = false

    func run() async throws {
        if json { return try await http.call(.GET, "/v1/hive") }
        let hive = try await http.fetch("/v1/hive", as: HiveJSON.self)
        let n = hive.node
        switch n.role {
        case "homeless":
            print("\(n.name): in no cell (plain gossip)")
        case "queen":
            print(
                "\(n.name): queen of cell \(n.cell ?? "?") in term \(n.term), \(n.voters.count) voters, "
                    + "lease \(n.leaseHeld ? "held" : "NOT held")"
            )
        default:
            print(
                "\(n.name): \(n.role) in cell \(n.cell ?? "?"), term \(n.term), "
                    + "queen \(n.queenName ?? n.queen ?? "unknown")\(n.routing ? "" : " (not routing: plain gossip)")"
            )
        }
        guard !hive.cells.isEmpty else {
            print("no cells yet")
            return
        }
        let rows = hive.cells.map { c in
            [
                c.cell, c.queenName ?? c.queen, "\(c.term)", "\(c.size)", c.open ? "open" : "full",
                c.rttMs.map { String(format: "%.3f ms", $0) } ?? "—", c.address,
            ]
        }
        printTable([["CELL", "QUEEN", "TERM", "SIZE", "ROOM", "RTT", "ADDRESS"]] + rows)
        if let evictions = hive.evictions, !evictions.isEmpty {
            print(
                "\(evictions.count) evicted: " + evictions.map { $0.name ?? $0.id }.joined(separator: ", ")
                    + " (colony hive evictions)")
        }
    }
}

/// The operator's signing key (`--operator DIR`: authority.key, as `colony cert authority init` writes).
func loadOperator(_ directory: String) throws -> Authority {
    do { return try Authority.load(directory: directory) } catch { throw ValidationError("\(error)") }
}
