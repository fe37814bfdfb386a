import ColonyCore
import ColonyNIO
import Foundation
import Hummingbird

/// What a force-leave did across the swarm (`PUT /v1/agent/force-leave/NODE`): the node's
/// `ForceLeaveSummary` (how many members answered, what each outcome counted, who refused),
/// with `complete` (every live member answered and none refused) beside its fields.
@dynamicMemberLookup
public struct ForceLeaveJSON: ResponseCodable, Equatable, Sendable {
    public var summary: ForceLeaveSummary

    init(_ s: ForceLeaveSummary) { summary = s }

    public subscript<T>(dynamicMember path: KeyPath<ForceLeaveSummary, T>) -> T { summary[keyPath: path] }

    enum CodingKeys: String, CodingKey { case complete }

    public init(from decoder: any Decoder) throws { summary = try ForceLeaveSummary(from: decoder) }

    public func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(summary.complete, forKey: .complete)
    }
}

/// Consul's `PUT /v1/agent/force-leave/:node?prune` (POST too): make a failed member `left` on
/// every member, or with `prune` remove it. Where operators are required it takes `order=` and
/// `orderAt=` (`colony force-leave --operator DIR` signs them); `timeout=` bounds the wait for
/// answers (default 5s).
func addForceLeaveRoutes(to router: Router<BasicRequestContext>, node: ColonyNode) {
    @Sendable func forceLeave(_ request: Request, _ context: BasicRequestContext) async throws -> ForceLeaveJSON {
        let raw = context.parameters.get("node") ?? ""
        let member = raw.removingPercentEncoding ?? raw
        guard !member.isEmpty, member.utf8.count <= 256 else {
            throw HTTPError(.badRequest, message: "name the member: /v1/agent/force-leave/NAME_OR_ID")
        }
        let q = request.uri.queryParameters
        var prune = false
        if let p = q.get("prune") {
            switch p {
            case "", "true", "1": prune = true
            case "false", "0": prune = false
            default: throw HTTPError(.badRequest, message: "prune must be true or false (got '\(p)')")
            }
        }
        var timeout = Duration.seconds(5)
        if let t = q.get("timeout") {
            guard let d = StateHTTP.duration(String(t)), d > .zero, d <= .seconds(60) else {
                throw HTTPError(
                    .badRequest, message: "timeout must be a duration like 5s or 500ms, at most 60s (got '\(t)')")
            }
            timeout = d
        }
        let order = try OrderParameter.timedOrder(request, of: "force-leave")
        do {
            return ForceLeaveJSON(try await node.forceLeave(member, prune: prune, order: order, timeout: timeout))
        } catch let e as ForceLeaveError {
            switch e {
            case .unknownMember: throw HTTPError(.notFound, message: e.description)
            case .alive, .isSelf: throw HTTPError(.conflict, message: e.description)
            case .order: throw HTTPError(.forbidden, message: e.description)
            case .state(.notActive): throw HTTPError(.serviceUnavailable, message: e.description)
            case .state(let s): throw StateHTTP.mapState(s)
            }
        } catch let e as ColonyError {
            throw HTTPError(.serviceUnavailable, message: e.description)
        }
    }
    router.put("/v1/agent/force-leave/{node}") { request, context in try await forceLeave(request, context) }
    router.post("/v1/agent/force-leave/{node}") { request, context in try await forceLeave(request, context) }
}
