import ColonyCore
import Foundation

// The JSON report (`colony simulate --json`), encoded by `JSONEncoder`: one object on one
// line, keys sorted. The field names are a contract (issue #2): scripts/, .ci/run and
// docs/benchmarks.md read them. Every scenario prints the shared fields, then its own
// report's; absent measures are null. Numbers are rounded as the reports always were
// (most to 0.1), so runs diff cleanly.

extension SimulationResult: Encodable {
    enum Key: String, CodingKey {
        case scenario, nodes, seed, profile, loss, converged
        case convergenceMs, detectionFirstMs, detectionAllMs, falsePositives, healMs
        case bytesPerNodePerSecond, messagesPerNodePerSecond, wallSeconds, peakMemoryBytes
        case rttErrorPercent
        case safetyViolations, virtualSeconds, steps, traceHash, violations, failure, passed
        case sentByKind, reproduce
    }

    /// Messages and bytes of one kind.
    struct Sent: Encodable {
        var messages: Int
        var bytes: Int
    }

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
        let scenario = options.scenario
        if scenario == .write || scenario == .stateChaos { try state.encode(to: encoder) }
        if scenario == .steady {
            let percent = Summary(rttError, [.p50, .p99, .max], scale: 100)
            try c.encode(percent, forKey: .rttErrorPercent)
        }
        if scenario == .abuse { try abuse.encode(to: encoder) }
        if scenario.isHive { try hive.encode(to: encoder) }
        if scenario.isHostFault { try hostFault.encode(to: encoder) }
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

    /// One JSON object on one line (keys sorted, so the same run prints the same text).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain numbers, strings and containers cannot fail.
        let data = try! encoder.encode(self)
        return String(decoding: data, as: UTF8.self)
    }
}

extension StateReport: Encodable {
    enum Key: String, CodingKey {
        case acknowledgedWrites, lostWrites, divergentNodes, falseSiblings, maxSiblings, stateConvergedMs
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(acknowledgedWrites, forKey: .acknowledgedWrites)
        try c.encode(lostWrites, forKey: .lostWrites)
        try c.encode(divergentNodes, forKey: .divergentNodes)
        try c.encode(falseSiblings, forKey: .falseSiblings)
        try c.encode(maxSiblings, forKey: .maxSiblings)
        try c.encode(Rounded(stateConvergedMs), forKey: .stateConvergedMs)
    }
}

extension HostFaultReport: Encodable {
    enum Key: String, CodingKey {
        case host, hostDeaths, hostDeathObservers, hostStatusChanges, healthySuspicions, deathsSeenOnlyByHost
        case recoveredMs, queenTermsDuringFault, stepDownsDuringFault
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(host, forKey: .host)
        try c.encode(hostDeaths, forKey: .hostDeaths)
        try c.encode(hostDeathObservers, forKey: .hostDeathObservers)
        try c.encode(hostStatusChanges, forKey: .hostStatusChanges)
        try c.encode(healthySuspicions, forKey: .healthySuspicions)
        try c.encode(deathsSeenOnlyByHost, forKey: .deathsSeenOnlyByHost)
        try c.encode(Rounded(recoveredMs), forKey: .recoveredMs)
        try c.encode(queenTermsDuringFault, forKey: .queenTermsDuringFault)
        try c.encode(stepDownsDuringFault, forKey: .stepDownsDuringFault)
    }
}

extension AbuseReport: Encodable {
    enum Key: String, CodingKey {
        case honestDeliveryRatio, offenders, offendersGraylisted, graylistRoundsMax, graylistRoundsByKind
        case offencePairsNotGraylisted, honestGraylisted
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(Rounded(honestDeliveryRatio, 4), forKey: .honestDeliveryRatio)
        try c.encode(offenders, forKey: .offenders)
        try c.encode(offendersGraylisted, forKey: .offendersGraylisted)
        try c.encode(graylistRoundsMax, forKey: .graylistRoundsMax)
        try c.encode(graylistRoundsByKind, forKey: .graylistRoundsByKind)
        try c.encode(offencePairsNotGraylisted, forKey: .offencePairsNotGraylisted)
        try c.encode(honestGraylisted, forKey: .honestGraylisted)
    }
}

extension HiveReport: Encodable {
    enum Key: String, CodingKey {
        case cells, cellSizes, hiveFormedMs, broadcasts, rmr, deliveryRatio, ldh, rateLimited
        case broadcastLatencyMs, failoverMs, electionMs, killed, faults
        case splits, splitMs, splitsIncomplete, merges, mergeMs
        case offenders, offendersEvicted, honestEvicted, evictMs, liftMs, readmitMs, evictedInRoster
        case queenRttRatio
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(cells, forKey: .cells)
        try c.encode(Summary(cellSizes, [.p50, .max, .min]), forKey: .cellSizes)
        try c.encode(Rounded(hiveFormedMs), forKey: .hiveFormedMs)
        try c.encode(broadcasts, forKey: .broadcasts)
        try c.encode(Rounded(rmr, 4), forKey: .rmr)
        try c.encode(Rounded(deliveryRatio, 5), forKey: .deliveryRatio)
        try c.encode(ldh, forKey: .ldh)
        try c.encode(rateLimited, forKey: .rateLimited)
        try c.encode(Summary(broadcastLatency), forKey: .broadcastLatencyMs)
        try c.encode(Summary(failover), forKey: .failoverMs)
        try c.encode(Summary(electionMs), forKey: .electionMs)
        try c.encode(killed, forKey: .killed)
        try c.encode(faults, forKey: .faults)
        try c.encode(splits, forKey: .splits)
        try c.encode(Summary(splitTime), forKey: .splitMs)
        try c.encode(splitsIncomplete, forKey: .splitsIncomplete)
        try c.encode(merges, forKey: .merges)
        try c.encode(Summary(mergeTime), forKey: .mergeMs)
        try c.encode(offenders, forKey: .offenders)
        try c.encode(offendersEvicted, forKey: .offendersEvicted)
        try c.encode(honestEvicted, forKey: .honestEvicted)
        try c.encode(Summary(evictTime), forKey: .evictMs)
        try c.encode(Summary(liftTime), forKey: .liftMs)
        try c.encode(Summary(readmitTime), forKey: .readmitMs)
        try c.encode(evictedInRoster, forKey: .evictedInRoster)
        try c.encode(Summary(queenRTTRatio, [.p50, .p90, .max], places: 3), forKey: .queenRttRatio)
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

    func encode(to encoder: any Encoder) throws {
        guard let d = distribution else {
            var c = encoder.singleValueContainer()
            return try c.encodeNil()
        }
        var c = encoder.container(keyedBy: Field.self)
        for field in fields {
            let value: Double
            switch field {
            case .p50: value = d.p50
            case .p90: value = d.p90
            case .p99: value = d.p99
            case .max: value = d.max
            case .min: value = d.min
            }
            try c.encode(Rounded(value * scale, places), forKey: field)
        }
    }
}
