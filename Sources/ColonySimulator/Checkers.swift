import ColonyCore

/// What the checkers have found and what they remember between steps.
struct CheckerState {
    /// Violated invariants, with the time (the first 100).
    var violations: [String] = []
    /// Healthy members (up when declared) declared dead by anyone, by index, once each.
    var falselyDeclaredDead: Set<Int> = []
    /// Who became queen of each (cell, term).
    var queensByTerm: [CellID: [UInt64: Int]] = [:]
    /// The last node seen holding each cell's lease, and until when (global time).
    var leaseHolders: [CellID: (node: Int, until: Instant)] = [:]
    /// Violations of "at most one queen per cell per term" and "no two lease-holding queens
    /// of one cell at the same instant".
    var safetyViolations = 0
}

// MARK: The checkers: every event a node emits, and every step of the hive, against what
// the simulator knows to be true.

extension Simulator {
    package var violations: [String] { checks.violations }
    /// Healthy members (up when declared) declared dead by anyone, by index, once each.
    package var falselyDeclaredDead: Set<Int> { checks.falselyDeclaredDead }
    /// Who became queen of each (cell, term).
    package var queensByTerm: [CellID: [UInt64: Int]] { checks.queensByTerm }
    /// Violations of the hive's safety (docs/design.md §5): two queens of a cell in one term, or
    /// two lease holders of a cell at once.
    package var safetyViolations: Int { checks.safetyViolations }

    package func violation(_ text: String) {
        if checks.violations.count < 100 {
            checks.violations.append("t=\(now.milliseconds)ms: \(text)")
        }
    }

    /// An event node `i` emitted: through the membership checker, the state oracle and the
    /// queen checker, then to the scenario.
    func observe(_ event: Event, at i: Int) {
        if case .memberChanged(let m, let previous) = event { checkMembership(m, previous: previous, at: i) }
        if case .keyChanged(let change) = event {
            if let problem = oracle.check(change) { violation("node \(i): \(problem)") }
        }
        if case .hive(let change) = event {
            switch change {
            case .founded(let cell, let term), .elected(let cell, let term):
                if let other = checks.queensByTerm[cell]?[term], other != i {
                    checks.safetyViolations += 1
                    violation("two queens of cell \(cell) in term \(term): node \(other) and node \(i)")
                }
                checks.queensByTerm[cell, default: [:]][term] = i
            case .steppedDown, .accepted, .leftCell, .splitting:
                break
            }
        }
        onEvent?(self, i, event)
    }

    /// Membership invariants: records only move forward, nobody rewrites a node's own
    /// record, incarnations are ones their node used, and in a fault-free phase nobody
    /// declares an up, reachable node dead.
    func checkMembership(_ m: Member, previous: Member?, at i: Int) {
        if let previous, !m.supersedes(previous) {
            violation("node \(i) replaced \(previous) of \(m.id) with non-superseding \(m)")
        }
        guard let j = resolve(m.peer) else { return }
        if j == i {
            violation("node \(i) changed its own record to \(m)")
        }
        if m.status == .dead, nodes[j].isUp {
            let reachable = nodes[j].pausedUntil <= now && nodes[j].group == nodes[i].group
            checks.falselyDeclaredDead.insert(j)
            if debugDeaths { printDeath(of: j, by: i, incarnation: m.incarnation) }
            if faultFree && reachable {
                violation("node \(i) declared node \(j) dead while it is up and reachable in a fault-free phase")
            }
        }
        if m.incarnation > nodes[j].persistedIncarnation, !selfSigningLiars.contains(j) {
            violation("node \(i) holds incarnation \(m.incarnation) for node \(j), which never used it")
        }
    }

    func printDeath(of j: Int, by i: Int, incarnation: UInt64) {
        // Whole milliseconds of virtual time; 0 for a node never paused.
        let ms: (Instant?) -> Int64 = { (($0 ?? .zero) - Instant.zero).wholeMilliseconds }
        print(
            "DEBUG t=\(ms(now)) node \(i) declares \(j) dead inc \(incarnation); "
                + "victim pausedUntil \(ms(nodes[j].pausedUntil)) lastPause \(ms(lastPauseStart[j])); "
                + "observer lastPause \(ms(lastPauseStart[i]))-\(ms(nodes[i].pausedUntil))")
    }

    /// The lease invariant: if node `i` holds its cell's lease now, no other node may. Each
    /// queen's lease ends when her own clock says so: in true time, by her clock's rate.
    func checkLease(_ i: Int) {
        guard settings.hive.enabled, let core = nodes[i].core, core.hive.role == .queen, let cell = core.hive.cell,
            let local = core.hive.leaseUntil
        else { return }
        let until = trueTime(i, local)
        guard until > now else { return }
        if let h = checks.leaseHolders[cell], h.node != i, h.until > now, let other = nodes[h.node].core,
            other.hive.role == .queen, other.hive.cell == cell, let otherLocal = other.hive.leaseUntil,
            case let otherUntil = trueTime(h.node, otherLocal), otherUntil > now
        {
            checks.safetyViolations += 1
            violation(
                "two lease-holding queens of cell \(cell): node \(h.node) (term \(other.hive.term), until "
                    + "\(otherUntil.milliseconds) ms) and node \(i) (term \(core.hive.term), until "
                    + "\(until.milliseconds) ms)")
        }
        checks.leaseHolders[cell] = (i, until)
    }

    /// Every up node sees exactly the up nodes alive, and each of `expectedGone` as dead or
    /// left (or forgotten). O(N²) in the worst case; counts are checked first.
    package func isConverged(expectedGone: Set<Int> = []) -> Bool {
        let up = upNodes
        for i in up {
            guard let core = nodes[i].core else { return false }
            if core.table.count(.alive) != up.count || core.table.count(.suspect) != 0 { return false }
        }
        for i in up {
            let table = nodes[i].core!.table
            for j in up where table[nodes[j].id]?.member.status != .alive { return false }
            for j in expectedGone {
                if let s = table[nodes[j].id]?.member.status, s.isLive { return false }
            }
        }
        return true
    }
}
