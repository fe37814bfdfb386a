import ColonyCore
import ColonyNIO
import Hummingbird

/// Who may reach the API from a browser (issue 18). Two checks on every request:
///
/// - **Host** (DNS rebinding): an agent listening on loopback answers only requests addressed
///   to a loopback name (`localhost`, `127.x.y.z`, `[::1]`). A web page that rebinds its own name
///   to 127.0.0.1 still sends its own name as Host, and is refused.
/// - **Origin** (cross-site requests): a request a browser marks with an `Origin` must come
///   from the agent's own origin (the dashboard); any other page, and the opaque `null`, is
///   refused. Clients that are not browsers (the CLI, curl) send no Origin and are not affected.
///
/// Refusals are 403 with a JSON error.
struct OriginGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The API listens on a loopback address.
    let loopback: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let authority = request.head.authority
        if loopback, let authority, !Self.isLoopbackAuthority(authority) {
            return JSONErrorMiddleware<Context>.json(
                .forbidden,
                "this agent listens on loopback and answers only requests to a loopback name "
                    + "(Host '\(authority.prefix(100))')")
        }
        if let origin = request.headers[HTTPFields.Element.Name("Origin")!] {
            guard let authority, Self.authority(ofOrigin: origin) == authority.lowercased() else {
                return JSONErrorMiddleware<Context>.json(
                    .forbidden, "cross-origin requests are refused (Origin '\(origin.prefix(100))')")
            }
        }
        return try await next(request, context)
    }

    /// `host[:port]` names a loopback host.
    static func isLoopbackAuthority(_ authority: String) -> Bool {
        var host = Substring(authority)
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = host[host.index(after: host.startIndex)..<end]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        return Address(host: String(host).lowercased(), port: 0).isLoopback
    }

    /// The `host[:port]` of an `Origin` header (`scheme://host[:port]`), lowercased; nil for
    /// `null` or anything else.
    static func authority(ofOrigin origin: String) -> String? {
        for scheme in ["http://", "https://"] where origin.lowercased().hasPrefix(scheme) {
            let rest = origin.dropFirst(scheme.count)
            guard !rest.isEmpty, !rest.contains("/") else { return nil }
            return rest.lowercased()
        }
        return nil
    }
}
