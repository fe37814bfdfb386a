import ArgumentParser
import ColonyAgent
import ColonyCore
import ColonyNIO
import Foundation
import Logging
import Metrics
import NIOHTTP1
import Prometheus
import UnixSignals

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Run one Colony node with its HTTP API, metrics and dashboard.")

    @Option(help: "Member name (default: the host name).") var name: String?
    @Option(help: "Gossip address, UDP and TCP (default 127.0.0.1:7946).") var bind: String?
    @Option(help: "Address others reach this node at, if not the bind address.") var advertise: String?
    @Option(help: "Seed to join (repeatable): host:port, a name, or [v6]:port.") var join: [String] = []
    @Option(name: .customLong("data-dir"), help: "Data directory (identity, incarnation, known peers).") var dataDir:
        String?
    @Option(help: "Configuration file (TOML); flags override it.") var config: String?
    @Option(help: "HTTP API address (default 127.0.0.1:7950).") var http: String?
    @Option(help: "Settings profile: lan, wan or local.") var profile: String?
    @Option(help: "Tag key=value (repeatable).") var tag: [String] = []
    @Option(help: "Find peers on the LAN by multicast: the cluster name to announce and listen for.") var discover:
        String?
    @Option(name: .customLong("discover-group"), help: "Multicast group for --discover (default 239.255.79.46:7945).")
    var discoverGroup: String?
    @Option(help: "Encryption key (base64, from `colony keygen`); seal every packet with it, as Serf's -encrypt.")
    var encrypt: String?
    @Option(
        name: .customLong("encrypt-mode"),
        help: "open (send plain, read both), accept (seal, read both) or require (default).") var encryptMode: String?
    @Option(help: "The swarm authority's public key (authority.pub): only nodes with a certificate from it join.")
    var authority: String?
    @Option(
        name: .customLong("operator-key"),
        help: """
            An operator's public key (authority.pub of `colony cert authority init`; repeatable): deposing, \
            lifting, keyring changes and force-leaves then need an operator's signed order (the CLI's \
            --operator DIR).
            """)
    var operatorKey: [String] = []
    @Option(
        name: .customLong("http-token"),
        help: """
            Bearer token the HTTP API requires (default: the one in the data directory's http-token, made at the \
            first start); none: no token (loopback only).
            """) var httpToken: String?
    @Flag(
        inversion: .prefixedNo,
        help: "Form cells with elected queens that route broadcasts (default on; the swarm needs 8 members).") var hive:
        Bool?
    @Option(
        name: .customLong("eviction-ttl"),
        help: "Seconds an eviction this node issues as queen keeps the member out (default 3600, at most 30 days).")
    var evictionTTL: Int?
    @Option(
        name: .customLong("flap-threshold"),
        help: """
            Flap damping: a member back from the dead this many times within 5 min has its next comeback held \
            and confirmed by a direct ping (default 2; 0 turns damping off).
            """)
    var flapThreshold: Int?
    @Option(
        name: .customLong("flap-hold"),
        help: "Seconds a flapping member's comeback is held before it is pinged, again while silent (default 30).")
    var flapHold: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.") var logLevel:
        String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level '\(logLevel)' is not a log level")
        }
        var file: AgentConfiguration.Overrides?
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ValidationError("cannot read the configuration file \(config)")
            }
            do {
                file = try AgentConfiguration.overrides(fromTOML: text, file: config)
            } catch let e as ConfigurationError {
                throw ValidationError(e.description)
            }
        }
        var flags = AgentConfiguration.Overrides()
        flags.name = name
        flags.bind = bind
        flags.advertise = advertise
        flags.join = join.isEmpty ? nil : join
        flags.dataDir = dataDir
        flags.http = http
        flags.profile = profile
        flags.discover = discover
        flags.discoverGroup = discoverGroup
        flags.encrypt = encrypt
        flags.encryptMode = encryptMode
        flags.httpToken = httpToken
        flags.authority = authority
        flags.operatorKeys = operatorKey.isEmpty ? nil : operatorKey
        flags.hive = hive
        flags.evictionTTL = evictionTTL
        flags.flapThreshold = flapThreshold
        flags.flapHold = flapHold
        if !tag.isEmpty {
            var tags: [String: String] = [:]
            for t in tag {
                let parts = t.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--tag must be key=value, got '\(t)'")
                }
                tags[parts[0]] = parts[1]
            }
            flags.tags = tags
        }
        let configuration: AgentConfiguration
        do {
            configuration = try AgentConfiguration.resolve(file: file, flags: flags)
        } catch let e as ConfigurationError {
            throw ValidationError(e.description)
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "colony")
        do {
            _ = try configuration.nodeConfiguration()
        } catch {
            throw ValidationError("\(error)")
        }
        try await Agent.run(
            configuration, logger: logger, registry: registry, gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

struct HTTPOption: ParsableArguments {
    @Option(help: "The agent's HTTP address (default 127.0.0.1:7950, or COLONY_HTTP_ADDR).") var http: String?
    @Option(
        help: """
            Bearer token for the agent's HTTP API (or COLONY_HTTP_TOKEN; default: the one the agent at that \
            address left in the runtime directory).
            """) var token: String?
    @Option(
        name: .customLong("token-file"),
        help: "File holding the token, such as the agent's DATA_DIR/http-token (or COLONY_HTTP_TOKEN_FILE).")
    var tokenFile: String?

    func client() throws -> AgentClient {
        let address: Address
        do {
            address = try AgentClient.resolveAddress(http)
        } catch {
            throw ValidationError("--http: \(error)")
        }
        let environment = ProcessInfo.processInfo.environment
        do {
            let resolved = try TokenResolver.resolve(
                token: token, tokenFile: tokenFile, environment: environment, address: address,
                index: RuntimeIndex.forUser(environment: environment))
            return AgentClient(address: address, token: resolved.token)
        } catch let e as HTTPTokenError {
            throw ValidationError(e.description)
        }
    }
}

extension HTTPOption {
    /// One request to the agent: print the JSON answer, or the API's error and fail.
    func call(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, raw: Bool = false, headers: [(String, String)] = []
    ) async throws {
        let (code, response) = try await client().send(method, path, json: body, raw: raw, headers: headers)
        guard code == 200 else { throw failFromAPI(code, response) }
        print(String(decoding: response, as: UTF8.self))
    }

    /// One request to the agent, its JSON answer decoded as `T`; the API's error fails it.
    func fetch<T: Decodable>(_ method: HTTPMethod, _ path: String, as type: T.Type) async throws -> T {
        let (code, response) = try await client().send(method, path)
        guard code == 200 else { throw failFromAPI(code, response) }
        return try JSONDecoder().decode(T.self, from: Data(response))
    }

    /// A GET, decoded (see above).
    func fetch<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try await fetch(.GET, path, as: type)
    }
}

/// Print an API error body ({"error":{"message":…}}) and fail.
/// Rows (the header first) in columns padded to their widest cell, two spaces apart.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    let widths = (0..<columns).map { c in rows.map { $0[c].count }.max() ?? 0 }
    for r in rows {
        print(
            r.indices.map { r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}

func failFromAPI(_ status: Int, _ body: [UInt8]) -> any Error {
    struct E: Decodable {
        struct D: Decodable { var message: String }
        var error: D
    }
    let message =
        (try? JSONDecoder().decode(E.self, from: Data(body)))?.error.message ?? String(decoding: body, as: UTF8.self)
    FileHandle.standardError.write(Data("error (\(status)): \(message)\n".utf8))
    if status == 401 {
        FileHandle.standardError.write(
            Data(
                ("the CLI sends --token, --token-file, COLONY_HTTP_TOKEN, COLONY_HTTP_TOKEN_FILE or else the token "
                    + "the agent at that address left in the runtime directory (same user; README, HTTP API)\n").utf8))
    }
    return ExitCode(1)
}

struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "List the members the local agent knows.")
    @OptionGroup var http: HTTPOption
    @Option(help: "Only members with this status: alive, suspect, dead, left.") var status: String?
    @Option(help: "Only members with this tag, key=value (repeatable).") var tag: [String] = []
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        var query: [String] = []
        if let status {
            guard MemberStatus(name: status) != nil else {
                throw ValidationError("--status must be alive, suspect, dead or left")
            }
            query.append("status=\(status)")
        }
        for t in tag {
            guard t.contains("=") else { throw ValidationError("--tag must be key=value") }
            query.append("tag=\(queryEscape(t))")
        }
        let path = "/v1/members" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        if json { return try await http.call(.GET, path) }
        let members = try await http.fetch(path, as: [MemberJSON].self)
        let rows =
            [["NAME", "ADDRESS", "STATUS", "INCARNATION", "TAGS"]]
            + members.map {
                [
                    $0.name, $0.address, $0.status, "\($0.incarnation)",
                    $0.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
                ]
            }
        printTable(rows)
    }
}

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor", abstract: "Stream membership events from the local agent.")
    @OptionGroup var http: HTTPOption

    func run() async throws {
        let code = try await http.client().stream("/v1/events") { chunk in
            FileHandle.standardOutput.write(Data(chunk))
        }
        if code != 200 { throw ExitCode(1) }
    }
}

struct JoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join", abstract: "Ask the local agent to join a swarm through seeds.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "Seed addresses: host:port, names, [v6]:port.") var addresses: [String]

    func run() async throws {
        guard !addresses.isEmpty else { throw ValidationError("give at least one address") }
        try await http.call(.POST, "/v1/join", body: Array(try JSONEncoder().encode(["seeds": addresses])))
    }
}

struct LeaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave", abstract: "Ask the local agent to leave the swarm gracefully.")
    @OptionGroup var http: HTTPOption

    func run() async throws {
        try await http.call(.POST, "/v1/leave")
    }
}

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Print the address that opens the local agent's dashboard in a browser, its token included.")
    @OptionGroup var http: HTTPOption

    func run() async throws {
        let client = try http.client()
        // The address is printed only once the agent takes the token.
        let (code, response) = try await client.send(.GET, "/v1/self")
        guard code == 200 else { throw failFromAPI(code, response) }
        print(dashboardURL(client.address, token: client.token))
    }
}

/// `http://host:port/#token=…`: the dashboard reads the token from the fragment, which the
/// browser never sends to the agent.
func dashboardURL(_ address: Address, token: String?) -> String {
    var unreserved = CharacterSet.alphanumerics
    unreserved.insert(charactersIn: "-._~")
    let fragment = token.map { "#token=" + ($0.addingPercentEncoding(withAllowedCharacters: unreserved) ?? $0) }
    return "http://\(address)/" + (fragment ?? "")
}
