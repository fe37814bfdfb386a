/// What a queen needs before she evicts a member by reputation (docs/design.md §5): the proof
/// of the accused's cell and a quorum of it (the rules are in Eviction.swift).
extension NodeCore {
    /// What this queen needs to evict `id` herself, if she may: the accused's cellmates, which
    /// accusers are known to be among them, and the proof of its cell the record carries. Only
    /// the accused's own queen may evict a worker, with its pledge to her, signed within
    /// `Pledge.maximumAgeMs`; any queen may evict another cell's queen, with her own claim
    /// (none of whose cellmates she knows). Nil otherwise: she pools and passes on what she
    /// hears (the accused's own queen hears it too).
    func evictionBasis(for id: NodeID) -> EvictionBasis? {
        if hive.role == .queen, let roster = hive.roster, let v = roster.voter(for: id) {
            guard let pledge = hive.reign.pledges[id], pledge.boot == v.boot,
                pledge.atMs &+ Pledge.maximumAgeMs >= wallMs
            else { return nil }
            return EvictionBasis(
                cellmates: Eviction.cellmates(roster.count - 1), isCellmate: { roster.voter(for: $0) != nil },
                pledge: pledge, claim: nil)
        }
        if let claim = knownClaim(of: id) {
            return EvictionBasis(
                cellmates: Eviction.cellmates(Int(claim.size) - 1), isCellmate: nil, pledge: nil, claim: claim)
        }
        return nil
    }

    /// The accusations that justify an eviction on `basis`, if `held` has them: a majority of
    /// the accused's cellmates; else, since an offender's victims are spread over the swarm,
    /// as many accusers from anywhere as its cell counts (members colluding from outside a
    /// cell must outnumber it). The gravest of those that count, a bounded number.
    func evidence<S: Sequence>(_ held: S, _ basis: EvictionBasis) -> [Accusation]? where S.Element == Accusation {
        let all = Array(held)
        var tries: [(pool: [Accusation], needed: Int)] = []
        if let isCellmate = basis.isCellmate {
            tries.append(
                (all.filter { isCellmate($0.accuser) }, Eviction.requiredAccusers(cellmates: basis.cellmates)))
        }
        tries.append((all, Eviction.requiredAccusers(cellmates: basis.cellmates, anywhere: true)))
        for (pool, needed) in tries {
            let gravest = pool.sorted { ($0.penalty, $0.accuser) > ($1.penalty, $1.accuser) }.prefix(
                Eviction.maximumAccusations)
            if gravest.count >= max(needed, settings.hive.evictionAccusers), reachThreshold(gravest) {
                return Array(gravest)
            }
        }
        return nil
    }
}

/// What a queen needs to evict a member herself (`NodeCore.evictionBasis`).
struct EvictionBasis {
    var cellmates: UInt64
    /// Whether an accuser is one of the accused's cellmates; nil: none is known to be.
    var isCellmate: ((NodeID) -> Bool)?
    var pledge: Pledge?
    var claim: QueenClaim?
}
