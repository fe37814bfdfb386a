import ColonyCore
import ColonyStore
import ColonyTrust
import Crypto
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

public enum ColonyError: Error, CustomStringConvertible, Equatable {
    case notStarted
    case alreadyStarted
    case needAdvertiseAddress(String)
    case noSeedAnswered(attempt: Int)
    case noSeeds
    case noCertificate
    case certificateForAnotherKey
    /// A write or event whose entry the event log could not commit: it was undone here and
    /// sent to nobody (why).
    case notDurable(String)

    public var description: String {
        switch self {
        case .notStarted: "the node is not running"
        case .alreadyStarted: "the node is already running"
        case .needAdvertiseAddress(let b): "bound to \(b): give an address others can reach (advertise)"
        case .noSeedAnswered(let n): "no seed answered (attempt \(n)); the node keeps retrying in the background"
        case .noSeeds: "no seeds given and no peers remembered from a previous run"
        case .noCertificate:
            "admission is on (an authority key is set) but this node has no certificate: "
                + "issue one with `colony cert issue`"
        case .certificateForAnotherKey: "the certificate is for another key than this node's identity"
        case .notDurable(let why): "not written: the event log could not make it durable (\(why)); nothing was sent"
        }
    }
}

/// Everything mutable lives here and is touched only on `loop` (hence `@unchecked`).
final class Driver: @unchecked Sendable {
    let configuration: ColonyNode.Configuration
    let loop: any EventLoop
    var logger: Logger
    let origin = NIODeadline.now()

    var core: NodeCore?
    var store: NodeStore?
    var udp: (any Channel)?
    var tcpServer: (any Channel)?
    /// Open streams by remote address: inbound ones by the peer's ephemeral address (so a
    /// reply goes back on the same connection), outbound ones by the peer's listen address.
    var streams: [Address: any Channel] = [:]
    var connecting: [Address: [[UInt8]]] = [:]
    var wakeTask: Scheduled<Void>?
    var wakeAt: Instant?
    var peersTask: RepeatedTask?
    var discoveryTask: RepeatedTask?
    var discoveryChannel: (any Channel)?
    var discoveryAttempts: [NodeID: Instant] = [:]
    var peersDirty = false
    var counters = DriverCounters()
    var joinWaiters: [EventLoopPromise<Void>] = []
    var leaveWaiters: [EventLoopPromise<Void>] = []
    var versionWarned: Set<Address> = []
    // Encryption (Driver+Trust).
    var keyring: Keyring?
    var replay: ReplayGuard
    var refusalWarned: Set<Address> = []
    // Admission and keyring recovery (Driver+Trust).
    var identityKey: Curve25519.Signing.PrivateKey?
    /// Authenticates every packet to its sender (when the node has signatures on).
    var packetAuthentication: PacketAuthentication?
    var certificate: Certificate?
    var recoveryPending: KeyringRecovery.Pending?
    var recovery: KeyringRecoveryMachine
    var keyringChanges = KeyringChangeMachine()
    /// Inbound streams open, by remote host (`admitInboundStream`).
    var inboundStreams: [String: Int] = [:]
    var keyringWaiters: [UInt64: EventLoopPromise<KeyringSummary>] = [:]
    let metricRefused: Counter
    let subscribers = NIOLockedValueBox<[UInt64: AsyncStream<Event>.Continuation]>([:])
    // Replicated state, the event log, queries (Driver+State).
    var log: EventLog?
    let eventLogBox = NIOLockedValueBox<EventLog?>(nil)
    var logBatch: [LogRecord] = []
    var batchOwn = DurableMarks()
    var putWaiters: [(record: StateRecord, promise: EventLoopPromise<StateRecord>)] = []
    var eventWaiters: [(event: UserEvent, promise: EventLoopPromise<UserEvent>)] = []
    // Durability off the loop (Driver+Durability).
    /// The highest incarnation known durable in the store.
    var durableIncarnation: UInt64 = 0
    /// Effects waiting behind an incarnation being made durable (nil: none waits).
    var heldEffects: [Effect]?
    /// Saves of the keyring file, in order, off the loop.
    let fileQueue = DispatchQueue(label: "colony.files")
    var queryStreams: [UInt64: AsyncStream<QueryResponse>.Continuation] = [:]
    let queryHandler = NIOLockedValueBox<(@Sendable (Query) async -> [UInt8]?)?>(nil)
    let logFollowers = NIOLockedValueBox<[UInt64: LogFollower]>([:])
    let nextSubscriber = NIOLockedValueBox<UInt64>(0)

    let metricPacketsIn: [Transport: Counter]
    let metricPacketsOut: [Transport: Counter]
    let metricBytesIn: Counter
    let metricBytesOut: Counter
    let metricMalformed: Counter
    let metricMembers: [MemberStatus: Gauge]
    let metricJoinDuration = Metrics.Timer(label: "colony_join_duration_seconds")
    var joinStartedAt: Instant?

    init(configuration: ColonyNode.Configuration, loop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.loop = loop
        var logger = logger
        logger[metadataKey: "colony.node"] = "\(configuration.name)"
        self.logger = logger
        metricPacketsIn = [
            .datagram: Counter(label: "colony_packets_received_total", dimensions: [("transport", "udp")]),
            .stream: Counter(label: "colony_packets_received_total", dimensions: [("transport", "tcp")]),
        ]
        metricPacketsOut = [
            .datagram: Counter(label: "colony_packets_sent_total", dimensions: [("transport", "udp")]),
            .stream: Counter(label: "colony_packets_sent_total", dimensions: [("transport", "tcp")]),
        ]
        metricBytesIn = Counter(label: "colony_bytes_received_total")
        metricBytesOut = Counter(label: "colony_bytes_sent_total")
        metricMalformed = Counter(label: "colony_packets_malformed_total")
        metricRefused = Counter(label: "colony_packets_refused_total")
        recovery = KeyringRecoveryMachine(interval: configuration.settings.trust.keyringRecoveryInterval)
        replay = ReplayGuard(windowMs: UInt64(max(1, configuration.replayWindow.nanosecondsInt64 / 1_000_000)))
        var gauges: [MemberStatus: Gauge] = [:]
        for s in MemberStatus.allCases {
            gauges[s] = Gauge(label: "colony_members", dimensions: [("status", s.description)])
        }
        metricMembers = gauges
    }

    // MARK: Running on the loop

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (Driver) throws -> T) async throws -> T {
        try await loop.submit { try body(self) }.get()
    }

    /// Run a core command on the loop: its effects are handled, its result returned.
    func command<T: Sendable, E: Error>(
        _ body: @escaping @Sendable (inout NodeCore, Instant) -> (Result<T, E>, [Effect])
    ) async throws -> T {
        try await onLoop { d in
            guard var core = d.core else { throw ColonyError.notStarted }
            let (result, effects) = body(&core, d.now())
            d.core = core
            d.handle(effects)
            return try result.get()
        }
    }

    func now() -> Instant {
        Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds) - Int64(origin.uptimeNanoseconds))
    }

    // MARK: Lifecycle

    func start() async throws -> Address {
        let alreadyRunning = try await onLoop { $0.core != nil || $0.udp != nil }
        if alreadyRunning { throw ColonyError.alreadyStarted }
        // Identity and incarnation first: nothing is sent before the incarnation is durable.
        let (identity, incarnation, eventLog) = try await openDurableState()
        let ring = try loadKeyring()
        let certificate = try loadCertificate(for: identity)
        try await onLoop { $0.keyring = ring }
        // The replicated state is a projection of the log: rebuild it before anything runs.
        let restored = try loadLog(eventLog)
        let coordinate = try? await onLoop({ $0.store })?.storedCoordinate()
        eventLogBox.withLockedValue { $0 = eventLog }
        let (server, udpChannel, port) = try await bindSockets()
        let bind = configuration.bind
        let bound = Address(host: bind.host, port: UInt16(clamping: port))
        let advertise = configuration.advertise ?? bound
        if advertise.host == "0.0.0.0" || advertise.host == "::" {
            try? await server.close()
            try? await udpChannel.close()
            throw ColonyError.needAdvertiseAddress(advertise.description)
        }
        let me = Member(
            id: identity.id, name: configuration.name, address: advertise, tags: configuration.tags,
            incarnation: incarnation)
        var seedGenerator = SystemRandomNumberGenerator()
        let coreSeed = seedGenerator.next()
        try await onLoop { d in
            d.tcpServer = server
            d.udp = udpChannel
            d.logger[metadataKey: "colony.id"] = "\(identity.id)"
            d.identityKey = identity.privateKey
            d.certificate = certificate
            // Room for the envelope, whether or not this node seals now (a key can be
            // installed while it runs).
            var settings = d.configuration.settings
            settings.maxDatagramBytes -= Envelope.overhead + PacketAuthentication.maxOverhead
            var core = NodeCore(me: me, settings: settings, seed: coreSeed, now: d.now())
            if d.configuration.signatures {
                d.packetAuthentication = PacketAuthentication(identity: identity.privateKey)
                core.authenticate(with: Ed25519Authenticator(privateKey: identity.privateKey), certificate: certificate)
            }
            d.log = eventLog
            d.durableIncarnation = incarnation
            d.restore(restored, into: &core)
            if let coordinate { core.restoreCoordinate(coordinate) }
            core.anchorWallClock(ms: UInt64(d.wallNow()), now: d.now())
            let effects = core.start(now: d.now())
            d.core = core
            d.handle(effects)
            d.peersTask = d.loop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(10)) { _ in
                d.savePeers()
            }
            d.logger.info(
                "node started",
                metadata: [
                    "colony.address": "\(advertise)", "colony.incarnation": "\(incarnation)",
                    "colony.keys": "\(core.state.sortedKeys.count)", "colony.records": "\(restored.records.count)",
                ])
        }
        if let d = configuration.discovery {
            do {
                let channel = try await startDiscovery(d, me: me)
                try await onLoop { $0.discoveryChannel = channel }
            } catch {
                logger.warning("multicast discovery unavailable", metadata: ["colony.error": "\(error)"])
            }
        }
        return advertise
    }

    /// The node's identity, a strictly higher incarnation and its event log: from the data
    /// directory, or fresh (an in-memory node).
    func openDurableState() async throws -> (NodeIdentity, UInt64, EventLog) {
        guard let dir = configuration.dataDirectory else { return (NodeIdentity.generate(), 1, try EventLog()) }
        let s = try NodeStore(directory: dir)
        for (file, mode) in s.madePrivate {
            logger.warning(
                "the node's database (holding its private key) was readable by others: made owner-only (0600)",
                metadata: ["colony.file": "\(file)", "colony.mode": "\(String(mode, radix: 8))"])
        }
        let identity = try s.identity()
        let incarnation = try s.nextIncarnation()
        try await onLoop { $0.store = s }
        return (identity, incarnation, EventLog(store: s))
    }

    /// With admission on, this node needs a certificate for its key (from the configuration,
    /// or node.cert in the data directory).
    func loadCertificate(for identity: NodeIdentity) throws -> Certificate? {
        var found = configuration.certificate
        if found == nil, let dir = configuration.dataDirectory { found = try CertificateFile.load(directory: dir) }
        if configuration.settings.trust.authorityKey != nil {
            guard let c = found else { throw ColonyError.noCertificate }
            guard c.publicKey == identity.publicKeyBytes else { throw ColonyError.certificateForAnotherKey }
        }
        return found
    }

    /// The TCP listener and the UDP socket, on the same port (the TCP one chosen first when
    /// the configuration asks for port 0).
    func bindSockets() async throws -> (server: any Channel, udp: any Channel, port: Int) {
        let bind = configuration.bind
        let server = try await ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: streamWaterMark)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard self.admitInboundStream(channel) else {
                        channel.close(promise: nil)
                        return
                    }
                    try self.installStreamHandlers(on: channel, key: nil)
                }
            }
            .bind(host: bind.host, port: Int(bind.port)).get()
        let port = server.localAddress?.port ?? Int(bind.port)
        let udpChannel: any Channel
        do {
            // No SO_REUSEADDR here: a second node on the same UDP port must fail to bind,
            // not silently share (and steal) datagrams.
            udpChannel = try await DatagramBootstrap(group: loop)
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramHandler(driver: self))
                    }
                }
                .bind(host: bind.host, port: port).get()
        } catch {
            try? await server.close()
            throw error
        }
        return (server, udpChannel, port)
    }

    func join(_ seeds: [Address]) async throws {
        var seeds = seeds
        if seeds.isEmpty, let store = try await onLoop({ $0.store }) {
            seeds = try store.knownPeers().map(\.address)
        }
        guard !seeds.isEmpty else { throw ColonyError.noSeeds }
        let targets = seeds
        let joined: EventLoopFuture<Void> = try await onLoop { d in
            guard var core = d.core else { throw ColonyError.notStarted }
            let p = d.loop.makePromise(of: Void.self)
            d.joinWaiters.append(p)
            d.joinStartedAt = d.now()
            let effects = core.join(seeds: targets, now: d.now())
            d.core = core
            d.handle(effects)
            return p.futureResult
        }
        try await joined.get()
    }

    func leave() async throws {
        let left: EventLoopFuture<Void> = try await onLoop { d in
            guard var core = d.core else { throw ColonyError.notStarted }
            if core.phase == .left { return d.loop.makeSucceededVoidFuture() }
            let p = d.loop.makePromise(of: Void.self)
            d.leaveWaiters.append(p)
            let effects = core.leave(now: d.now())
            d.core = core
            d.handle(effects)
            return p.futureResult
        }
        try await left.get()
    }

    func stop() async {
        let log = (try? await onLoop { $0.log }) ?? nil
        let channels: [any Channel] =
            (try? await onLoop { d in
                d.savePeers()
                d.heldEffects = nil
                d.wakeTask?.cancel()
                d.peersTask?.cancel()
                d.discoveryTask?.cancel()
                d.core = nil
                let all = [d.udp, d.tcpServer, d.discoveryChannel].compactMap { $0 } + Array(d.streams.values)
                d.discoveryChannel = nil
                d.udp = nil
                d.tcpServer = nil
                d.streams = [:]
                for w in d.joinWaiters { w.fail(ColonyError.notStarted) }
                for w in d.leaveWaiters { w.fail(ColonyError.notStarted) }
                for w in d.putWaiters { w.promise.fail(ColonyError.notStarted) }
                d.putWaiters = []
                for w in d.eventWaiters { w.promise.fail(ColonyError.notStarted) }
                d.eventWaiters = []
                for q in d.queryStreams.values { q.finish() }
                d.queryStreams = [:]
                for id in Array(d.keyringWaiters.keys) { d.keyringChange(finished: id) }
                d.joinWaiters = []
                d.leaveWaiters = []
                return all
            }) ?? []
        for c in channels { try? await c.close() }
        // What was submitted (the peers just saved, the last log batch) is committed.
        await log?.drain()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in fileQueue.async { c.resume() } }
        for c in subscribers.withLockedValue({ Array($0.values) }) { c.finish() }
        for f in logFollowers.withLockedValue({ Array($0.values) }) { f.continuation.finish() }
    }

    func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(4096))
        let key = nextSubscriber.withLockedValue { v in
            v += 1
            return v
        }
        subscribers.withLockedValue { $0[key] = continuation }
        continuation.onTermination = { [subscribers] _ in
            subscribers.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
        return stream
    }

    // MARK: Inputs (on the loop)

    func onDatagram(_ bytes: [UInt8], from address: Address) { received(bytes, from: address, via: .datagram) }

    func onFrame(_ bytes: [UInt8], from address: Address) { received(bytes, from: address, via: .stream) }

    private func received(_ bytes: [UInt8], from address: Address, via: Transport) {
        if via == .datagram { counters.datagramsIn += 1 } else { counters.framesIn += 1 }
        counters.bytesIn += bytes.count
        metricPacketsIn[via]?.increment()
        metricBytesIn.increment(by: bytes.count)
        // The first byte names the namespace: keyring recovery rides plain stream frames;
        // everything else is a core packet, sealed or not.
        if via == .stream, let namespace = WireNamespace(first: bytes), namespace.isKeyringRecovery {
            onRecoveryFrame(bytes, namespace: namespace, from: address)
            return
        }
        guard let plain = openIfNeeded(bytes, from: address),
            let (packetBytes, sender) = authenticate(plain, from: address)
        else { return }
        deliver(packetBytes, from: address, sender: sender, via: via)
    }

    func deliver(_ bytes: ArraySlice<UInt8>, from address: Address, sender: PacketSender, via: Transport) {
        guard var core else { return }
        let packet: Packet
        do {
            packet = try Wire.decode(bytes)
        } catch {
            counters.malformed[error.reason, default: 0] += 1
            metricMalformed.increment()
            if case .unsupportedVersion(let v) = error {
                counters.wrongVersion += 1
                if versionWarned.insert(address).inserted {
                    logger.warning(
                        "refusing packets from a peer that speaks another wire protocol version",
                        metadata: [
                            "colony.peer": "\(address)", "colony.peerVersion": "\(v)",
                            "colony.version": "\(Wire.version)",
                        ])
                }
            } else {
                logger.debug(
                    "dropped malformed packet", metadata: ["colony.peer": "\(address)", "colony.error": "\(error)"])
            }
            let effects = core.rejected(sender: sender, from: address, now: now())
            self.core = core
            handle(effects)
            return
        }
        let effects = core.receive(packet, from: address, sender: sender, via: via, bytes: bytes.count, now: now())
        self.core = core
        handle(effects)
    }

    func fireTick() {
        wakeTask = nil
        wakeAt = nil
        guard var core else { return }
        let effects = core.tick(now: now())
        self.core = core
        handle(effects)
    }
}
