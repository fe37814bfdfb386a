import ColonyCore
import ColonyNIO
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `colony agent`: one node, its HTTP API on loopback, metrics and dashboard, run as a
/// `ServiceGroup`. On the given signals (the executable passes SIGTERM and SIGINT) the node
/// leaves the swarm, then the HTTP server stops.
public enum Agent {
    /// The API requires a bearer token unless `http_token` is `"none"` (see `HTTPToken`); once
    /// it listens, the agent leaves its token in the runtime directory the environment names
    /// (`RuntimeIndex`) for the CLI, and takes it back when it stops.
    public static func run(
        _ configuration: AgentConfiguration, logger: Logger, registry: PrometheusCollectorRegistry?,
        gracefulShutdownSignals: [UnixSignal] = [], environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        let http = try Address(parsing: configuration.http, defaultPort: 7950)
        let token = try HTTPToken.forAgent(configuration)
        if token == nil {
            logger.warning("the HTTP API requires no token (http_token = none): any local user can drive this agent")
        } else if configuration.httpToken == nil, let dir = configuration.dataDir {
            logger.info("HTTP API token", metadata: ["colony.token_file": "\(HTTPToken.path(directory: dir))"])
        }
        let publication = TokenPublication(
            index: RuntimeIndex.forUser(environment: environment), token: token, host: http.host, logger: logger)
        defer { publication.withdraw() }
        let node = ColonyNode(configuration: try configuration.nodeConfiguration(), logger: logger)
        let name = configuration.name
        // Built-in query: `ping` answers with this member's name (and the payload echoed).
        node.setQueryHandler { q in
            guard q.name == "ping" else { return nil }
            return Array(name.utf8) + (q.payload.isEmpty ? [] : Array(" ".utf8) + q.payload)
        }
        let address = try await node.start()
        logger.info("gossip listening", metadata: ["colony.address": "\(address)"])
        if configuration.operatorKeys.isEmpty && configuration.authority == nil {
            logger.warning(
                "no operator key: any member can depose queens, lift evictions, change the keyring, force-leave",
                metadata: ["colony.hint": "set operator_keys or --operator-key to require an operator's signed order"])
        }
        let app = Application(
            router: buildRouter(node: node, registry: registry, token: token, loopback: http.isLoopback),
            configuration: .init(address: .hostname(http.host, port: Int(http.port)), serverName: "colony"),
            onServerRunning: { channel in
                logger.info("HTTP API listening", metadata: ["colony.http": "http://\(http)/"])
                publication.publish(port: channel.localAddress?.port ?? Int(http.port))
            },
            logger: logger
        )
        let joiner = Joiner(node: node, seeds: configuration.join, rejoin: configuration.dataDir != nil, logger: logger)
        // Shut down in reverse order: the node leaves first, then HTTP stops.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app), .init(service: node), .init(service: joiner)],
                gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
        try await group.run()
    }
}

/// The agent's token in the runtime directory, from the moment its API listens (so a CLI
/// reading it reaches this agent, not one that failed to bind) until it stops.
final class TokenPublication: Sendable {
    let index: RuntimeIndex?
    let token: String?
    let host: String
    let logger: Logger
    let port = Mutex<Int?>(nil)

    init(index: RuntimeIndex?, token: String?, host: String, logger: Logger) {
        self.index = index
        self.token = token
        self.host = host
        self.logger = logger
    }

    func publish(port p: Int) {
        guard let token else { return }
        guard let index else {
            logger.warning("no runtime directory (set HOME or COLONY_RUNTIME_DIR): the CLI needs --token-file")
            return
        }
        do {
            try index.publish(token: token, host: host, port: p)
            port.withLock { $0 = p }
            logger.info(
                "HTTP API token left for the CLI", metadata: ["colony.runtime": "\(index.path(host: host, port: p))"])
        } catch {
            logger.warning("the CLI will need --token-file", metadata: ["colony.error": "\(error)"])
        }
    }

    func withdraw() {
        if let index, let p = port.withLock({ $0 }) { index.withdraw(host: host, port: p) }
    }
}

/// Joins the seeds at start (or the peers remembered from last time), in the background,
/// so the API is up while the swarm is being found; the core keeps retrying on its own.
struct Joiner: Service {
    let node: ColonyNode
    let seeds: [String]
    let rejoin: Bool
    let logger: Logger

    func run() async throws {
        if !seeds.isEmpty || rejoin {
            do {
                try await node.join(seeds: seeds)
            } catch ColonyError.noSeeds {
                logger.info("no seeds and no remembered peers: waiting to be joined")
            } catch {
                logger.warning("join did not complete yet", metadata: ["colony.error": "\(error)"])
            }
        }
        try? await gracefulShutdown()
    }
}
