/// How often this node's own direct probes are answered: its view of its own health.
///
/// Two moving averages: a quick one (about the last 5 probes) that sees loss begin, and a slow
/// one (about 50) that remembers it; `success` is the lower. Membership owns it (its probes
/// feed it); the lone-verdict rule reads it, and the trust machine's helper audit is handed it
/// as the loss it must allow for (the same two legs, the same network).
struct ProbeRecord: Sendable {
    private(set) var quick = 1.0
    private(set) var slow = 1.0

    /// A direct probe of a member ended: answered in time, or not (it went indirect).
    mutating func note(answered: Bool) {
        quick = 0.8 * quick + (answered ? 0.2 : 0)
        slow = 0.98 * slow + (answered ? 0.02 : 0)
    }

    /// How often direct probes are answered, at the cautious end of the two averages.
    var success: Double { min(quick, slow) }
}
