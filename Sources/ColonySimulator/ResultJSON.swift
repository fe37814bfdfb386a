import ColonyCore
import Foundation

// The JSON report (`colony simulate --json`), encoded by `JSONEncoder`: one object on one
// line, keys sorted. The field names are a contract (issue #2): scripts/, .ci/run and
// docs/benchmarks.md read them. Every scenario prints the shared fields, then its own
// report's (ReportJSON.swift); absent measures are null. Numbers are rounded as the reports
// always were (most to 0.1), so runs diff cleanly.
//
// `JSONDecoder` reads a report back: the options from `reproduce`, every measure as printed
// (rounded; of a distribution, the percentiles printed). Encoding what was decoded prints
// the same text. The timeline and its label are not in the report.

extension SimulationResult: Codable {
    enum Key: String, CodingKey {
        case scenario, nodes, seed, profile, loss, converged
        case convergenceMs, detectionFirstMs, detectionAllMs, falsePositives, healMs
        case bytesPerNodePerSecond, messagesPerNodePerSecond, wallSeconds, peakMemoryBytes
        case rttErrorPercent
        case safetyViolations, virtualSeconds, steps, traceHash, violations, failure, passed
        case sentByKind, reproduce
    }

    /// Messages and bytes of one kind.
    struct Sent: Codable {
        var messages: Int
        var bytes: Int
    }

    /// The round-trip estimates' error, printed in percent (steady).
    static let rttErrorSummary = Summary(nil, [.p50, .p99, .max], scale: 100)

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(options.scenario.rawValue, forKey: .scenario)
        try c.encode(options.nodes, forKey: .nodes)
        try c.encode(options.seedText, forKey: .seed)
        try c.encode(options.profile, forKey: .profile)
        try c.encode(options.loss, forKey: .loss)
        try c.encode(converged, forKey: .converged)
        try c.encode(Summary(convergence), forKey: .convergenceMs)
        try c.encode(Rounded(detectionFirstMs), forKey: .detectionFirstMs)
        try c.encode(Summary(detectionAll), forKey: .detectionAllMs)
        try c.encode(falsePositives, forKey: .falsePositives)
        try c.encode(Rounded(healMs), forKey: .healMs)
        try c.encode(Rounded(bytesPerNodePerSecond), forKey: .bytesPerNodePerSecond)
        try c.encode(Rounded(messagesPerNodePerSecond, 3), forKey: .messagesPerNodePerSecond)
        try c.encode(Rounded(wallSeconds, 2), forKey: .wallSeconds)
        try c.encode(peakMemoryBytes, forKey: .peakMemoryBytes)
        try encodeScenarioReport(to: encoder)
        if options.scenario == .steady {
            try c.encode(Self.rttErrorSummary.with(rttError), forKey: .rttErrorPercent)
        }
        try c.encode(safetyViolations, forKey: .safetyViolations)
        try c.encode(Rounded(virtualSeconds, 3), forKey: .virtualSeconds)
        try c.encode(steps, forKey: .steps)
        try c.encode(String(traceHash, radix: 16), forKey: .traceHash)
        try c.encode(violations, forKey: .violations)
        try c.encode(failure, forKey: .failure)
        try c.encode(passed, forKey: .passed)
        var sent: [String: Sent] = [:]
        for (kind, messages) in messagesByKind { sent[kind] = Sent(messages: messages, bytes: bytesByKind[kind] ?? 0) }
        try c.encode(sent, forKey: .sentByKind)
        try c.encode(options.reproduceCommand, forKey: .reproduce)
    }

    /// The scenario's own report, its fields beside the shared ones.
    func encodeScenarioReport(to encoder: any Encoder) throws {
        let scenario = options.scenario
        if scenario == .write || scenario == .stateChaos { try state.encode(to: encoder) }
        if scenario == .abuse { try abuse.encode(to: encoder) }
        if scenario.isHive {
            try hive.encode(to: encoder)
            try queenLoss.encode(to: encoder)
            try split.encode(to: encoder)
            try hiveSafety.encode(to: encoder)
            try evict.encode(to: encoder)
        }
        if scenario.isHostFault { try hostFault.encode(to: encoder) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let command = try c.decode(String.self, forKey: .reproduce)
        do {
            self.init(options: try SimulationOptions(reproducing: command))
        } catch let error as SimulationError {
            throw DecodingError.dataCorruptedError(forKey: .reproduce, in: c, debugDescription: error.description)
        }
        converged = try c.decode(Bool.self, forKey: .converged)
        convergence = try c.summary(.convergenceMs)
        detectionFirstMs = try c.rounded(.detectionFirstMs)
        detectionAll = try c.summary(.detectionAllMs)
        falsePositives = try c.decodeIfPresent(Int.self, forKey: .falsePositives)
        healMs = try c.rounded(.healMs)
        bytesPerNodePerSecond = try c.rounded(.bytesPerNodePerSecond)
        messagesPerNodePerSecond = try c.rounded(.messagesPerNodePerSecond)
        wallSeconds = try c.rounded(.wallSeconds) ?? 0
        peakMemoryBytes = try c.decode(Int.self, forKey: .peakMemoryBytes)
        try decodeScenarioReport(from: decoder)
        if options.scenario == .steady { rttError = try c.summary(.rttErrorPercent, Self.rttErrorSummary) }
        safetyViolations = try c.decode(Int.self, forKey: .safetyViolations)
        virtualSeconds = try c.rounded(.virtualSeconds) ?? 0
        steps = try c.decode(Int.self, forKey: .steps)
        let hash = try c.decode(String.self, forKey: .traceHash)
        guard let traceHash = UInt64(hash, radix: 16) else {
            throw DecodingError.dataCorruptedError(forKey: .traceHash, in: c, debugDescription: "not hex: \(hash)")
        }
        self.traceHash = traceHash
        violations = try c.decode([String].self, forKey: .violations)
        failure = try c.decodeIfPresent(String.self, forKey: .failure)
        for (kind, sent) in try c.decode([String: Sent].self, forKey: .sentByKind) {
            messagesByKind[kind] = sent.messages
            bytesByKind[kind] = sent.bytes
        }
    }

    mutating func decodeScenarioReport(from decoder: any Decoder) throws {
        let scenario = options.scenario
        if scenario == .write || scenario == .stateChaos { state = try StateReport(from: decoder) }
        if scenario == .abuse { abuse = try AbuseReport(from: decoder) }
        if scenario.isHive {
            hive = try HiveReport(from: decoder)
            queenLoss = try QueenLossReport(from: decoder)
            split = try SplitReport(from: decoder)
            hiveSafety = try HiveSafetyReport(from: decoder)
            evict = try EvictReport(from: decoder)
        }
        if scenario.isHostFault { hostFault = try HostFaultReport(from: decoder) }
    }

    /// One JSON object on one line (keys sorted, so the same run prints the same text).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain numbers, strings and containers cannot fail.
        let data = try! encoder.encode(self)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A number as the report prints it: rounded to `places` decimals; nil, NaN and the
/// infinities are null.
struct Rounded: Encodable {
    var value: Double?
    var places: Int

    init(_ value: Double?, _ places: Int = 1) {
        self.value = value
        self.places = places
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        guard let value, value.isFinite else { return try c.encodeNil() }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        try c.encode((value * scale).rounded() / scale)
    }
}

/// Some percentiles of a distribution (by default p50, p90, p99 and max), each times
/// `scale`, rounded; null without one.
struct Summary: Encodable {
    enum Field: String, CodingKey { case p50, p90, p99, max, min }

    var distribution: Distribution?
    var fields: [Field]
    var scale: Double
    var places: Int

    init(_ d: Distribution?, _ fields: [Field] = [.p50, .p90, .p99, .max], scale: Double = 1, places: Int = 1) {
        self.distribution = d
        self.fields = fields
        self.scale = scale
        self.places = places
    }

    /// The same summary of another distribution.
    func with(_ d: Distribution?) -> Summary {
        var s = self
        s.distribution = d
        return s
    }

    func encode(to encoder: any Encoder) throws {
        guard let d = distribution else {
            var c = encoder.singleValueContainer()
            return try c.encodeNil()
        }
        var c = encoder.container(keyedBy: Field.self)
        for field in fields {
            try c.encode(Rounded(d[field] * scale, places), forKey: field)
        }
    }
}

extension Distribution {
    subscript(field: Summary.Field) -> Double {
        switch field {
        case .p50: p50
        case .p90: p90
        case .p99: p99
        case .max: max
        case .min: min
        }
    }
}

extension KeyedDecodingContainer {
    /// A number the report rounded (nil for null).
    func rounded(_ key: Key) throws -> Double? { try decodeIfPresent(Double.self, forKey: key) }

    /// A distribution the report summed up as `summary` prints it (nil for null): the
    /// percentiles printed, divided by its scale, as rounded; the others NaN, its count 0.
    func summary(_ key: Key, _ summary: Summary = Summary(nil)) throws -> Distribution? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        let c = try nestedContainer(keyedBy: Summary.Field.self, forKey: key)
        var values: [Summary.Field: Double] = [:]
        for field in summary.fields {
            values[field] = try c.decodeIfPresent(Double.self, forKey: field).map { $0 / summary.scale } ?? .nan
        }
        return Distribution(
            p50: values[.p50] ?? .nan, p90: values[.p90] ?? .nan, p99: values[.p99] ?? .nan, max: values[.max] ?? .nan,
            min: values[.min] ?? .nan, count: 0)
    }
}
