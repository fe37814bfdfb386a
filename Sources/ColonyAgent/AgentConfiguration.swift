import ColonyCore
import ColonyNIO
import ColonyTrust
import Foundation

/// `colony agent` settings. Precedence: defaults < `colony.toml` < command-line flags.
public struct AgentConfiguration: Sendable, Equatable {
    public var name: String
    /// Gossip address (UDP and TCP, same port).
    public var bind: String = "127.0.0.1:7946"
    /// Address others reach us at, when not the bind address.
    public var advertise: String?
    /// Seeds to join on start (`host:port`, names, `[v6]:port`).
    public var join: [String] = []
    /// Data directory: identity, incarnation, known peers. Nil keeps state in memory only.
    public var dataDir: String?
    /// HTTP API address, loopback by default.
    public var http: String = "127.0.0.1:7950"
    /// Settings profile: lan, wan or local.
    public var profile: String = "lan"
    public var tags: [String: String] = [:]
    /// LAN discovery by multicast: the cluster name to announce and listen for (off if nil).
    public var discover: String?
    /// Multicast group for discovery.
    public var discoverGroup: String = "239.255.79.46:7945"
    /// Encryption key (base64, `colony keygen`), as Serf's `-encrypt`. A keyring saved in the
    /// data directory wins (it holds later rotations); this key is then only installed.
    public var encrypt: String?
    /// open, accept or require (default): see `Keyring.Mode`.
    public var encryptMode: String = "require"
    /// Bearer token the HTTP API requires. Nil: the one in the data directory, made at the first
    /// start (`HTTPToken`); `"none"`: no token, allowed on a loopback address only.
    public var httpToken: String?
    /// The swarm authority's public key (base64, authority.pub): admission by certificate
    /// (`node.cert` in the data directory) and revocations.
    public var authority: String?
    /// Operators' public keys (base64, as authority.pub): with any (or an authority),
    /// deposing, lifting evictions and keyring changes need one's signed order.
    public var operatorKeys: [String] = []
    /// Form cells with elected queens that route broadcasts (docs/design.md §5) once the swarm
    /// has enough members; off: plain gossip.
    public var hive = true
    /// How long an eviction this node issues as queen keeps the identity out, seconds
    /// (default 3600; at most 30 days).
    public var evictionTTL: Int = 3600
    /// Flap damping (`Settings.flapThreshold`): comebacks from the dead within 5 min after
    /// which the next one is held; 0 turns it off. Default 2.
    public var flapThreshold: Int = 2
    /// How long a flapping member's comeback is held before it is pinged, seconds. Default 30.
    public var flapHold: Int = 30

    public init(name: String) { self.name = name }

    /// Every optional field, for layering a file and flags over the defaults.
    public struct Overrides: Sendable, Equatable {
        public var name: String?
        public var bind: String?
        public var advertise: String?
        public var join: [String]?
        public var dataDir: String?
        public var http: String?
        public var profile: String?
        public var tags: [String: String]?
        public var discover: String?
        public var discoverGroup: String?
        public var encrypt: String?
        public var encryptMode: String?
        public var httpToken: String?
        public var authority: String?
        public var operatorKeys: [String]?
        public var hive: Bool?
        public var evictionTTL: Int?
        public var flapThreshold: Int?
        public var flapHold: Int?
        public init() {}
    }

    public static let fileKeys = [
        "name", "bind", "advertise", "join", "data_dir", "http", "profile", "discover", "discover_group",
        "encrypt", "encrypt_mode", "http_token", "authority", "operator_keys", "hive", "eviction_ttl", "flap_threshold",
        "flap_hold",
    ]

    /// Read a `colony.toml`. Unknown keys and values of the wrong type are errors.
    public static func overrides(fromTOML text: String, file: String = "colony.toml") throws -> Overrides {
        let doc: TOMLDocument
        do {
            doc = try TOMLDocument(parsing: text)
        } catch {
            throw ConfigurationError("\(file): \(error)")
        }
        var o = Overrides()
        func string(_ key: String) throws -> String? {
            guard let (v, line) = doc.root[key] else { return nil }
            guard case .string(let s) = v else {
                throw ConfigurationError("\(file): line \(line): '\(key)' must be a string, not \(v.typeName)")
            }
            return s
        }
        for (key, entry) in doc.root where !fileKeys.contains(key) {
            throw ConfigurationError(
                "\(file): line \(entry.line): unknown key '\(key)' "
                    + "(known: \(fileKeys.joined(separator: ", ")), and the [tags] table)"
            )
        }
        for (table, line) in doc.tableLines where table != "tags" {
            throw ConfigurationError("\(file): line \(line): unknown table [\(table)] (known: [tags])")
        }
        o.name = try string("name")
        o.bind = try string("bind")
        o.advertise = try string("advertise")
        o.dataDir = try string("data_dir")
        o.http = try string("http")
        o.profile = try string("profile")
        o.discover = try string("discover")
        o.discoverGroup = try string("discover_group")
        o.encrypt = try string("encrypt")
        o.encryptMode = try string("encrypt_mode")
        o.httpToken = try string("http_token")
        o.authority = try string("authority")
        if let (v, line) = doc.root["hive"] {
            guard case .boolean(let b) = v else {
                throw ConfigurationError("\(file): line \(line): 'hive' must be true or false, not \(v.typeName)")
            }
            o.hive = b
        }
        func integer(_ key: String, _ unit: String) throws -> Int? {
            guard let (v, line) = doc.root[key] else { return nil }
            guard case .integer(let i) = v else {
                throw ConfigurationError(
                    "\(file): line \(line): '\(key)' must be an integer (\(unit)), not \(v.typeName)")
            }
            return i
        }
        o.evictionTTL = try integer("eviction_ttl", "seconds")
        o.flapThreshold = try integer("flap_threshold", "comebacks")
        o.flapHold = try integer("flap_hold", "seconds")
        func strings(_ key: String) throws -> [String]? {
            guard let (v, line) = doc.root[key] else { return nil }
            guard case .array(let items) = v else {
                throw ConfigurationError("\(file): line \(line): '\(key)' must be an array of strings")
            }
            return try items.map { item in
                guard case .string(let s) = item else {
                    throw ConfigurationError("\(file): line \(line): '\(key)' must be an array of strings")
                }
                return s
            }
        }
        o.join = try strings("join")
        o.operatorKeys = try strings("operator_keys")
        if let tags = doc.tables["tags"] {
            var out: [String: String] = [:]
            for (k, entry) in tags {
                guard case .string(let s) = entry.value else {
                    throw ConfigurationError("\(file): line \(entry.line): tag '\(k)' must be a string")
                }
                out[k] = s
            }
            o.tags = out
        }
        return o
    }

    /// Defaults, then the file, then the flags; then validated.
    public static func resolve(file: Overrides?, flags: Overrides) throws -> AgentConfiguration {
        let layers = [file ?? Overrides(), flags]
        let name = layers.compactMap(\.name).last ?? Self.defaultName()
        var c = AgentConfiguration(name: name)
        for l in layers {
            if let v = l.bind { c.bind = v }
            if let v = l.advertise { c.advertise = v }
            if let v = l.join { c.join = v }
            if let v = l.dataDir { c.dataDir = v }
            if let v = l.http { c.http = v }
            if let v = l.profile { c.profile = v }
            if let v = l.tags { c.tags.merge(v) { $1 } }
            if let v = l.discover { c.discover = v }
            if let v = l.discoverGroup { c.discoverGroup = v }
            if let v = l.hive { c.hive = v }
            if let v = l.evictionTTL { c.evictionTTL = v }
            if let v = l.flapThreshold { c.flapThreshold = v }
            if let v = l.flapHold { c.flapHold = v }
            if let v = l.encrypt { c.encrypt = v }
            if let v = l.encryptMode { c.encryptMode = v }
            if let v = l.httpToken { c.httpToken = v }
            if let v = l.authority { c.authority = v }
            if let v = l.operatorKeys { c.operatorKeys = v }
        }
        try c.validate()
        return c
    }

    static func defaultName() -> String {
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "colony"
    }

    public func validate() throws {
        guard !name.isEmpty, name.utf8.count <= 128 else { throw ConfigurationError("name must be 1–128 bytes") }
        guard Settings.profile(named: profile) != nil else {
            throw ConfigurationError("profile '\(profile)' is not one of lan, wan, local")
        }
        do {
            _ = try Address(parsing: bind)
            _ = try Address(parsing: http, defaultPort: 7950)
            if let advertise { _ = try Address(parsing: advertise) }
            for j in join { _ = try Address(parsing: j) }
            let group = try Address(parsing: discoverGroup, defaultPort: 7945)
            guard group.isIPLiteral else {
                throw ConfigurationError("discover_group must be an IP multicast address, got '\(discoverGroup)'")
            }
        } catch {
            throw ConfigurationError("\(error)")
        }
        if let authority {
            do { _ = try Authority.decodePublicKey(authority) } catch {
                throw ConfigurationError("authority: \(error)")
            }
            guard dataDir != nil else {
                throw ConfigurationError("authority: admission needs a data directory (its node.cert)")
            }
        }
        for k in operatorKeys {
            do { _ = try Authority.decodePublicKey(k) } catch {
                throw ConfigurationError("operator_keys: '\(k)': \(error)")
            }
        }
        if let encrypt {
            do { _ = try Keyring.decode(encrypt) } catch { throw ConfigurationError("encrypt: \(error)") }
        }
        guard Keyring.Mode(rawValue: encryptMode) != nil else {
            throw ConfigurationError("encrypt_mode must be one of open, accept, require (got '\(encryptMode)')")
        }
        if let httpToken, httpToken != HTTPToken.disabled, !HTTPToken.isAcceptable(httpToken) {
            throw ConfigurationError(
                "http_token must be at least 16 characters with no spaces (or \"none\", loopback only)")
        }
        if httpToken == HTTPToken.disabled, let h = try? Address(parsing: http, defaultPort: 7950), !h.isLoopback {
            throw ConfigurationError(
                "http_token = \"none\" (--http-token none) turns the API's token off, which only a loopback "
                    + "address allows, and http \(http) is not one: drop it (the agent makes a token) or set a token"
            )
        }
        let maxTTL = Int(Eviction.maximumMs / 1000)
        guard evictionTTL >= 1, evictionTTL <= maxTTL else {
            throw ConfigurationError("eviction_ttl must be 1–\(maxTTL) seconds (30 days), got \(evictionTTL)")
        }
        guard (0...100).contains(flapThreshold) else {
            throw ConfigurationError("flap_threshold must be 0–100 comebacks (0: no damping), got \(flapThreshold)")
        }
        guard (1...3600).contains(flapHold) else {
            throw ConfigurationError("flap_hold must be 1–3600 seconds, got \(flapHold)")
        }
        for (k, v) in tags where k.isEmpty || k.utf8.count > 64 || v.utf8.count > 256 {
            throw ConfigurationError("tag '\(k)' is empty or too long (keys ≤ 64 bytes, values ≤ 256)")
        }
    }

    /// The node configuration this agent runs.
    public func nodeConfiguration() throws -> ColonyNode.Configuration {
        var settings = Settings.profile(named: profile)!
        if let authority { settings.trust.authorityKey = try Authority.decodePublicKey(authority) }
        settings.trust.operatorKeys = try operatorKeys.map { try Authority.decodePublicKey($0) }
        settings.hive.enabled = hive
        settings.hive.evictionTTL = .seconds(evictionTTL)
        settings.flapThreshold = flapThreshold
        settings.flapHold = .seconds(flapHold)
        var c = ColonyNode.Configuration(
            name: name, bind: try Address(parsing: bind), settings: settings, dataDirectory: dataDir)
        c.advertise = try advertise.map { try Address(parsing: $0) }
        c.tags = tags
        if let encrypt {
            c.keyring = try Keyring(primaryBase64: encrypt, mode: Keyring.Mode(rawValue: encryptMode) ?? .require)
        }
        if let discover {
            guard !discover.isEmpty, !discover.contains(" ") else {
                throw ConfigurationError("discover: the cluster name must be one word")
            }
            c.discovery = MulticastDiscovery(
                cluster: discover, group: try Address(parsing: discoverGroup, defaultPort: 7945))
        }
        return c
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
