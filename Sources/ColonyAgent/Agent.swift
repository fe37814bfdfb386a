import ColonyCore
import ColonyNIO
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `colony agent`: one node, its HTTP API on loopback, metrics and dashboard, run as a
/// `ServiceGroup`. On the given signals (the executable passes SIGTERM and SIGINT) the node
/// leaves the swarm, then the HTTP server stops.
public enum Agent {
    public static func run(
        _ configuration: AgentConfiguration, logger: Logger, registry: PrometheusCollectorRegistry?,
        gracefulShutdownSignals: [UnixSignal] = []
    ) async throws {
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
                "no operator key: any member can depose queens, lift evictions and change the keyring",
                metadata: ["colony.hint": "set operator_keys or --operator-key to require an operator's signed order"])
        }
        let http = try Address(parsing: configuration.http, defaultPort: 7950)
        let app = Application(
            router: buildRouter(
                node: node, registry: registry, token: configuration.httpToken, loopback: http.isLoopback),
            configuration: .init(address: .hostname(http.host, port: Int(http.port)), serverName: "colony"),
            onServerRunning: { _ in logger.info("HTTP API listening", metadata: ["colony.http": "http://\(http)/"]) },
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
