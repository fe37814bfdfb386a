import ArgumentParser
import ColonyAgent
import Foundation
import NIOHTTP1

/// `colony hive`: the cells, queens, terms and loads the local agent knows, and its own
/// place among them.
struct HiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hive", abstract: "Show the hive: cells, queens, terms and loads.")
    @OptionGroup var http: HTTPOption
    @Flag(help: "Print the agent's JSON.") var json = false

    func run() async throws {
        let (code, body) = try await http.client().send(.GET, "/v1/hive")
        guard code == 200 else { throw failFromAPI(code, body) }
        if json {
            print(String(decoding: body, as: UTF8.self))
            return
        }
        let hive = try JSONDecoder().decode(HiveJSON.self, from: Data(body))
        let n = hive.node
        switch n.role {
        case "homeless":
            print("\(n.name): in no cell (plain gossip)")
        case "queen":
            print("\(n.name): queen of cell \(n.cell ?? "?") in term \(n.term), \(n.voters.count) voters, lease \(n.leaseHeld ? "held" : "NOT held")")
        default:
            print("\(n.name): \(n.role) in cell \(n.cell ?? "?"), term \(n.term), queen \(n.queenName ?? n.queen ?? "unknown")\(n.routing ? "" : " (not routing: plain gossip)")")
        }
        guard !hive.cells.isEmpty else {
            print("no cells yet")
            return
        }
        let rows = hive.cells.map { c in
            [c.cell, c.queenName ?? c.queen, "\(c.term)", "\(c.size)", c.open ? "open" : "full", c.rttMs.map { String(format: "%.3f ms", $0) } ?? "—", c.address]
        }
        let header = ["CELL", "QUEEN", "TERM", "SIZE", "ROOM", "RTT", "ADDRESS"]
        let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ r: [String]) -> String { r.indices.map { r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") }
        print(line(header))
        for r in rows { print(line(r)) }
    }
}
