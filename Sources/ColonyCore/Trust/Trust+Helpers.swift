/// The audit of ping-req helpers, told apart from packet loss.
///
/// A helper that answers our direct ping yet left our ping-req unanswered may be
/// freeloading — or the request or its answer was lost: on a lossy link an honest helper does
/// exactly that, often (at 19 % loss per path, about one audit in five). One observation
/// proves nothing. A freeloader never answers a ping-req, so every answer clears a helper,
/// and only a run of ignored requests that loss explains with odds below one in a million
/// (`helperAuditFalseOdds`) counts: the chance an honest request goes unanswered is taken
/// from how often our own direct probes go unanswered (the same two legs, the same network):
/// Membership's `ProbeRecord`, passed in.
extension Trust {
    /// The chance an honest helper's ignored streak is a false verdict, at most.
    static let helperAuditFalseOdds = 1e-6
    /// At most this many helpers' streaks are kept (the oldest evidence goes first).
    static let helperStreaksCapacity = 1024

    /// A helper answered a ping-req (ack or nack): it is no freeloader.
    mutating func helperAnswered(_ helper: NodeID) {
        ignoredStreaks[helper] = nil
    }

    /// How many ping-reqs in a row a helper must ignore, while answering direct pings, before
    /// loss no longer explains it (at least 3), when our direct probes are answered with
    /// probability `probeSuccess`.
    static func ignoredRunNeeded(probeSuccess: Double) -> Int {
        let answered = min(0.99, max(0.01, probeSuccess))
        let run = PureMath.ln(Self.helperAuditFalseOdds) / PureMath.ln(1 - answered)
        return max(3, Int((run - 1e-9).rounded(.up)))
    }

    /// A helper left a ping-req unanswered yet answered our direct ping. True when its run of
    /// such requests is longer than loss explains: freeloading (the run starts over).
    mutating func helperIgnored(_ helper: NodeID, probeSuccess: Double) -> Bool {
        let run = (ignoredStreaks[helper] ?? 0) + 1
        if run >= Self.ignoredRunNeeded(probeSuccess: probeSuccess) {
            ignoredStreaks[helper] = nil
            return true
        }
        if ignoredStreaks[helper] == nil, ignoredStreaks.count >= Self.helperStreaksCapacity,
            let shortest = ignoredStreaks.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })
        {
            ignoredStreaks[shortest.key] = nil
        }
        ignoredStreaks[helper] = run
        return false
    }
}
