import ColonyCore

/// Ground truth about writes, kept by the simulator (which sees every node): for each
/// acknowledged write, the writes it really had seen when it was made (its causal past).
///
/// A node may only drop a record as superseded if the superseding write's causal past holds
/// it; a write missing everywhere that no held write has in its past is lost; two siblings
/// one of which is in the other's past are a false conflict. These are judged against what
/// happened, not against the contexts the nodes carry, so a bug that forges coverage shows.
package final class StateOracle {
    /// dot → the dots in its causal past.
    public private(set) var past: [Dot: Set<Dot>] = [:]
    /// Acknowledged writes in order.
    public private(set) var acknowledged: [StateRecord] = []

    public init() {}

    func wrote(_ r: StateRecord, seeing siblings: [StateRecord]) {
        var p: Set<Dot> = []
        for s in siblings {
            p.insert(s.dot)
            if let sp = past[s.dot] { p.formUnion(sp) }
        }
        past[r.dot] = p
        acknowledged.append(r)
    }

    func check(_ change: KeyChange) -> String? {
        guard let p = past[change.record.dot] else { return nil }
        for d in change.superseded where !p.contains(d) {
            return "write \(change.record.dot) superseded \(d) on key \(change.record.key) without having seen it"
        }
        return nil
    }

    /// Is `dot` held by `ks` or in the causal past of a held sibling?
    public func accountedFor(_ dot: Dot, in ks: KeyState?) -> Bool {
        guard let ks else { return false }
        return ks.siblings.contains { $0.dot == dot || (past[$0.dot]?.contains(dot) ?? false) }
    }

    /// Pairs of siblings of which one is in the other's past.
    public func falseSiblings(in ks: KeyState) -> Int {
        var count = 0
        let s = ks.siblings
        for a in 0..<s.count {
            for b in (a + 1)..<s.count {
                if past[s[a].dot]?.contains(s[b].dot) == true || past[s[b].dot]?.contains(s[a].dot) == true {
                    count += 1
                }
            }
        }
        return count
    }
}
