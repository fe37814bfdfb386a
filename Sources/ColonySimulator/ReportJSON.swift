import ColonyCore
import Foundation

// Each scenario's own report in the JSON report, its fields beside the shared ones
// (ResultJSON.swift): encoded as they always were, and decoded back as printed.

extension StateReport: Codable {
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

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        acknowledgedWrites = try c.decodeIfPresent(Int.self, forKey: .acknowledgedWrites)
        lostWrites = try c.decodeIfPresent(Int.self, forKey: .lostWrites)
        divergentNodes = try c.decodeIfPresent(Int.self, forKey: .divergentNodes)
        falseSiblings = try c.decodeIfPresent(Int.self, forKey: .falseSiblings)
        maxSiblings = try c.decodeIfPresent(Int.self, forKey: .maxSiblings)
        stateConvergedMs = try c.rounded(.stateConvergedMs)
    }
}

extension HostFaultReport: Codable {
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

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        host = try c.decodeIfPresent(Int.self, forKey: .host)
        hostDeaths = try c.decodeIfPresent(Int.self, forKey: .hostDeaths)
        hostDeathObservers = try c.decodeIfPresent(Int.self, forKey: .hostDeathObservers)
        hostStatusChanges = try c.decodeIfPresent(Int.self, forKey: .hostStatusChanges)
        healthySuspicions = try c.decodeIfPresent(Int.self, forKey: .healthySuspicions)
        deathsSeenOnlyByHost = try c.decodeIfPresent(Int.self, forKey: .deathsSeenOnlyByHost)
        recoveredMs = try c.rounded(.recoveredMs)
        queenTermsDuringFault = try c.decodeIfPresent(Int.self, forKey: .queenTermsDuringFault)
        stepDownsDuringFault = try c.decodeIfPresent([String: Int].self, forKey: .stepDownsDuringFault)
    }
}

extension AbuseReport: Codable {
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

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        honestDeliveryRatio = try c.rounded(.honestDeliveryRatio)
        offenders = try c.decodeIfPresent(Int.self, forKey: .offenders)
        offendersGraylisted = try c.decodeIfPresent(Int.self, forKey: .offendersGraylisted)
        graylistRoundsMax = try c.decodeIfPresent(Int.self, forKey: .graylistRoundsMax)
        graylistRoundsByKind = try c.decode([String: Int].self, forKey: .graylistRoundsByKind)
        offencePairsNotGraylisted = try c.decodeIfPresent(Int.self, forKey: .offencePairsNotGraylisted)
        honestGraylisted = try c.decodeIfPresent(Int.self, forKey: .honestGraylisted)
    }
}

extension HiveReport: Codable {
    enum Key: String, CodingKey {
        case cells, cellSizes, hiveFormedMs, broadcasts, rmr, deliveryRatio, ldh, rateLimited
        case broadcastLatencyMs, honestEvicted, queenRttRatio
    }

    static let cellSizesSummary = Summary(nil, [.p50, .max, .min])
    static let queenRTTRatioSummary = Summary(nil, [.p50, .p90, .max], places: 3)

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(cells, forKey: .cells)
        try c.encode(Self.cellSizesSummary.with(cellSizes), forKey: .cellSizes)
        try c.encode(Rounded(hiveFormedMs), forKey: .hiveFormedMs)
        try c.encode(broadcasts, forKey: .broadcasts)
        try c.encode(Rounded(rmr, 4), forKey: .rmr)
        try c.encode(Rounded(deliveryRatio, 5), forKey: .deliveryRatio)
        try c.encode(ldh, forKey: .ldh)
        try c.encode(rateLimited, forKey: .rateLimited)
        try c.encode(Summary(broadcastLatency), forKey: .broadcastLatencyMs)
        try c.encode(honestEvicted, forKey: .honestEvicted)
        try c.encode(Self.queenRTTRatioSummary.with(queenRTTRatio), forKey: .queenRttRatio)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        cells = try c.decodeIfPresent(Int.self, forKey: .cells)
        cellSizes = try c.summary(.cellSizes, Self.cellSizesSummary)
        hiveFormedMs = try c.rounded(.hiveFormedMs)
        broadcasts = try c.decodeIfPresent(Int.self, forKey: .broadcasts)
        rmr = try c.rounded(.rmr)
        deliveryRatio = try c.rounded(.deliveryRatio)
        ldh = try c.decodeIfPresent(Int.self, forKey: .ldh)
        rateLimited = try c.decodeIfPresent(Int.self, forKey: .rateLimited)
        broadcastLatency = try c.summary(.broadcastLatencyMs)
        honestEvicted = try c.decodeIfPresent(Int.self, forKey: .honestEvicted)
        queenRTTRatio = try c.summary(.queenRttRatio, Self.queenRTTRatioSummary)
    }
}

extension QueenLossReport: Codable {
    enum Key: String, CodingKey { case failoverMs, electionMs, killed }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(Summary(failover), forKey: .failoverMs)
        try c.encode(Summary(electionMs), forKey: .electionMs)
        try c.encode(killed, forKey: .killed)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        failover = try c.summary(.failoverMs)
        electionMs = try c.summary(.electionMs)
        killed = try c.decodeIfPresent(Int.self, forKey: .killed)
    }
}

extension SplitReport: Codable {
    enum Key: String, CodingKey { case splits, splitMs, splitsIncomplete, merges, mergeMs }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(splits, forKey: .splits)
        try c.encode(Summary(splitTime), forKey: .splitMs)
        try c.encode(splitsIncomplete, forKey: .splitsIncomplete)
        try c.encode(merges, forKey: .merges)
        try c.encode(Summary(mergeTime), forKey: .mergeMs)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        splits = try c.decodeIfPresent(Int.self, forKey: .splits)
        splitTime = try c.summary(.splitMs)
        splitsIncomplete = try c.decodeIfPresent(Int.self, forKey: .splitsIncomplete)
        merges = try c.decodeIfPresent(Int.self, forKey: .merges)
        mergeTime = try c.summary(.mergeMs)
    }
}

extension HiveSafetyReport: Codable {
    enum Key: String, CodingKey { case faults }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(faults, forKey: .faults)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        faults = try c.decodeIfPresent(Int.self, forKey: .faults)
    }
}

extension EvictReport: Codable {
    enum Key: String, CodingKey {
        case offenders, offendersEvicted, evictMs, liftMs, readmitMs, evictedInRoster
        case offendersGraylisted, honestDead, hostilePackets
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(offenders, forKey: .offenders)
        try c.encode(offendersEvicted, forKey: .offendersEvicted)
        try c.encode(Summary(evictTime), forKey: .evictMs)
        try c.encode(Summary(liftTime), forKey: .liftMs)
        try c.encode(Summary(readmitTime), forKey: .readmitMs)
        try c.encode(evictedInRoster, forKey: .evictedInRoster)
        try c.encodeIfPresent(offendersGraylisted, forKey: .offendersGraylisted)
        try c.encodeIfPresent(honestDead, forKey: .honestDead)
        try c.encodeIfPresent(hostilePackets, forKey: .hostilePackets)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init()
        offenders = try c.decodeIfPresent(Int.self, forKey: .offenders)
        offendersEvicted = try c.decodeIfPresent(Int.self, forKey: .offendersEvicted)
        evictTime = try c.summary(.evictMs)
        liftTime = try c.summary(.liftMs)
        readmitTime = try c.summary(.readmitMs)
        evictedInRoster = try c.decodeIfPresent(Int.self, forKey: .evictedInRoster)
        offendersGraylisted = try c.decodeIfPresent(Int.self, forKey: .offendersGraylisted)
        honestDead = try c.decodeIfPresent(Int.self, forKey: .honestDead)
        hostilePackets = try c.decodeIfPresent(Int.self, forKey: .hostilePackets)
    }
}
