import ArgumentParser
import ColonyAgent
import ColonyCore
import Foundation
import NIOHTTP1

/// `colony rtt A [B]`: the round trip between two members estimated from their network
/// coordinates, with no probe sent (as `serf rtt`). B defaults to the local agent.
struct RTTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtt", abstract: "Estimate the round trip between two members from their network coordinates.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "A member name.") var a: String
    @Argument(help: "Another member name (default: the local agent).") var b: String?

    func run() async throws {
        let all = try await http.fetch("/v1/coordinates", as: [CoordinateJSON].self)
        guard let first = all.first else { throw ValidationError("the agent reported no coordinates") }
        func find(_ name: String) throws -> CoordinateJSON {
            guard let c = all.first(where: { $0.name == name }) else {
                throw ValidationError(
                    "no coordinate for '\(name)' yet (the local agent learns one from each member's acks)")
            }
            return c
        }
        let x = try find(a)
        let y = try b.map(find) ?? first
        let ms = x.coordinate.distance(to: y.coordinate) * 1000
        print(String(format: "Estimated %@ <-> %@ rtt: %.3f ms", x.name, y.name, ms))
    }
}
