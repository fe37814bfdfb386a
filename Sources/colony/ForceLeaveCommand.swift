import ArgumentParser
import ColonyAgent
import ColonyCore
import ColonyTrust
import Foundation
import NIOHTTP1

/// `colony force-leave NODE [--prune]`: Serf's `force-leave`, Consul's `force-leave -prune`.
/// A failed member is made `left` on every member (no longer reported failed nor reconnected
/// to); with `--prune` its record is removed everywhere. A live member refutes it.
struct ForceLeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "force-leave",
        abstract: "Make a failed member leave (by name or node id); --prune removes it from every member's list.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "The failed member: its name or node id, as `colony members` shows them.") var node: String
    @Flag(help: "Remove the member from every member's list rather than keep it as left.") var prune = false
    @Option(
        name: .customLong("operator"),
        help: "The operator's key directory (as `colony cert authority init` makes): sign the force-leave as an order.")
    var operatorDirectory: String?
    @Option(help: "How long to wait for members to answer, e.g. 5s.") var timeout: String = "5s"
    @Flag(help: "Print the agent's JSON.") var json = false

    func run() async throws {
        var target = node
        var query = ["timeout=\(queryEscape(timeout))"]
        if prune { query.append("prune=true") }
        if let operatorDirectory {
            let signer = try loadOperator(operatorDirectory)
            // The order names the member's id and incarnation, as the agent holds them.
            let members = try await http.fetch("/v1/members", as: [MemberJSON].self)
            let named = members.filter { $0.id == node || $0.name == node }
            guard
                let m = named.first(where: { $0.id == node }) ?? named.first(where: { $0.status != "alive" })
                    ?? named.first, let id = NodeID(hex: m.id)
            else {
                throw ValidationError("no member '\(node)' at the agent (colony members lists them)")
            }
            target = m.id
            let at = UInt64(Date().timeIntervalSince1970 * 1000)
            let order = signer.sign(.forceLeave(id: id, incarnation: m.incarnation, prune: prune, issuedAtMs: at))
            query.append("order=\(OrderParameter.encode(order))&orderAt=\(at)")
        }
        let path = "/v1/agent/force-leave/\(queryEscape(target))?" + query.joined(separator: "&")
        if json { return try await http.call(.PUT, path) }
        let r = try await http.fetch(.PUT, path, as: ForceLeaveJSON.self)
        let counts = r.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print(
            "force-leave\(r.prune ? " -prune" : "") of \(r.name) (incarnation \(r.incarnation)): "
                + "\(r.responses) of \(r.nodes) members answered (\(counts.isEmpty ? "none" : counts))")
        for (name, error) in r.errors.sorted(by: { $0.key < $1.key }) { print("  \(name): \(error)") }
        // Some member refused or missed it: exit non-zero, as `colony keys`.
        if !r.complete { throw ExitCode(1) }
    }
}
