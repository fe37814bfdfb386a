import HashTreeCollections

/// Peer scores and per-sender rate limits (docs/design.md §6, after gossipsub v1.1's peer
/// scoring): the `Trust` machine's own rules. It decides; `NodeCore+Trust` turns what it
/// decided into effects (events, accusations, the decay timer).
extension Trust {
    /// A threshold a peer's score crossed, in the order it was crossed.
    enum Crossing: Sendable, Equatable {
        /// Below the graylist threshold: its gossip is ignored from now on.
        case graylisted(score: Double)
        /// Back above the graylist threshold.
        case forgiven(score: Double)
        /// Below the eviction threshold: its eviction is proposed.
        case evictionProposed(score: Double)
    }

    /// Whether a packet is let in by the sender's buckets.
    enum Admission: Sendable, Equatable {
        case admitted
        /// Over the limit. `breach`: the sender to hold it against (at most once per 100 ms
        /// window: a flood is a habit, not one slip per packet); nil for strangers and
        /// repeats within the window.
        case refused(breach: NodeID?)
    }

    /// The bucket senders share when they are not attributable to a member.
    static let strangers = NodeID(high: 0, low: 0)

    /// The score we hold for `peer` (0 for strangers).
    func score(of peer: NodeID, _ settings: TrustSettings) -> Double { scores[peer]?.score(settings) ?? 0 }

    /// Count an offence against `peer` and reassess it.
    mutating func penalize(_ peer: NodeID, _ offence: Offence, _ settings: TrustSettings) -> [Crossing] {
        var s = scores[peer] ?? PeerScore()
        switch offence {
        case .invalidSignature:
            s.invalid += 1
            s.forgeries += 1
        case .malformed: s.invalid += 1
        case .rateLimited: s.rateBreaches += 1
        case .unanswered: s.unanswered += 1
        }
        scores[peer] = s
        return reassess(peer, settings)
    }

    /// Count a timely ack or a first delivery of valid news from `peer` and reassess it.
    mutating func reward(_ peer: NodeID, timelyAck: Bool, _ settings: TrustSettings) -> [Crossing] {
        var s = scores[peer] ?? PeerScore()
        if timelyAck { s.timelyAcks += 1 } else { s.firstDeliveries += 1 }
        scores[peer] = s
        return reassess(peer, settings)
    }

    /// Cross thresholds: graylist (ignore) below one, propose eviction below the other;
    /// leave the graylist once the score recovers above it.
    mutating func reassess(_ peer: NodeID, _ settings: TrustSettings) -> [Crossing] {
        guard var s = scores[peer] else { return [] }
        let value = s.score(settings)
        var crossed: [Crossing] = []
        if !s.graylisted && value < settings.graylistThreshold {
            s.graylisted = true
            crossed.append(.graylisted(score: value))
        } else if s.graylisted && value >= settings.graylistThreshold {
            s.graylisted = false
            // Recovered: a relapse earns a new eviction proposal.
            s.evictionProposed = false
            crossed.append(.forgiven(score: value))
        }
        if !s.evictionProposed && value < settings.evictThreshold {
            s.evictionProposed = true
            crossed.append(.evictionProposed(score: value))
        }
        scores[peer] = s
        return crossed
    }

    /// One second of decay for `peer`'s score, then reassessed; a neutral score is
    /// forgotten, and so is a forgiven one of a peer that left the table (`isMember` false).
    mutating func decay(_ peer: NodeID, _ settings: TrustSettings, isMember: Bool) -> [Crossing] {
        guard scores[peer] != nil else { return [] }
        scores[peer]?.decay(settings)
        let crossed = reassess(peer, settings)
        if scores[peer]?.isNeutral == true { scores[peer] = nil }
        if let s = scores[peer], !s.graylisted, !isMember { scores[peer] = nil }
        return crossed
    }

    /// Take one packet of `bytes` (datagram bytes count too) from `sender`'s buckets (nil: a
    /// stranger, or a member's id claimed from another host, sharing one larger bucket).
    mutating func admit(
        from sender: NodeID?, bytes: Int, via transport: Transport, now: Instant, _ t: TrustSettings
    ) -> Admission {
        let share = sender != nil ? 1 : t.strangerShare
        let key = sender ?? Self.strangers
        var bucket = packetBuckets[key] ?? TokenBucket(burst: t.packetBurst * share, at: now)
        var ok = bucket.take(1, rate: t.packetsPerSecond * share, burst: t.packetBurst * share, now: now)
        packetBuckets[key] = bucket
        if ok && transport == .datagram && bytes > 0 {
            var bb = byteBuckets[key] ?? TokenBucket(burst: t.byteBurst * share, at: now)
            ok = bb.take(Double(bytes), rate: t.bytesPerSecond * share, burst: t.byteBurst * share, now: now)
            byteBuckets[key] = bb
        }
        if ok { return .admitted }
        let window = now.window(of: .milliseconds(100))
        guard let sender, lastBreachWindow[sender] != window else { return .refused(breach: nil) }
        lastBreachWindow[sender] = window
        return .refused(breach: sender)
    }

    /// Forget the breach windows and buckets of senders that are no longer members (`count`:
    /// the table's size; buckets are swept only when they outnumber it).
    mutating func forgetSenders(count: Int, isMember: (NodeID) -> Bool) {
        lastBreachWindow = lastBreachWindow.filter { isMember($0.key) }
        if packetBuckets.count > count + 1 {
            packetBuckets = packetBuckets.filter { isMember($0.key) || $0.key == Self.strangers }
            byteBuckets = byteBuckets.filter { isMember($0.key) || $0.key == Self.strangers }
        }
    }
}
