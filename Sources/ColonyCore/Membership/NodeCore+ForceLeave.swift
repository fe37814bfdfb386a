import HashTreeCollections

/// `colony force-leave` (Serf's `force-leave`, Consul's `force-leave -prune`, docs/design.md
/// §6): a failed member is made `left`, so it is no longer reported failed nor reconnected to;
/// with `prune` its record is removed altogether.
///
/// It rides the internal query `ColonyQuery.forceLeave`, as keyring changes do: the query
/// floods every live member, each verifies and carries it out, and answers the asker, who
/// learns how many members did what. A query, not a reserved record, because the order is
/// timed (honoured within `OperatorOrder.freshnessMs`, once: `OrderLedger`), and a query lives
/// seconds while a record is re-delivered by anti-entropy for as long as it is held, long past
/// any freshness window; and because a departure only needs to reach the members that hold the
/// member failed now — one that missed it still holds a tombstone that expires on its own.
///
/// The departure is this node's verdict, not the member's signed leave: it is not gossiped as a
/// `left` claim (peers could not verify it), and table exchanges show it as the death it
/// replaced (`shared`). A live member is never removed for good: it refutes the order with a
/// higher incarnation, which supersedes the departure everywhere (as in Serf).
extension NodeCore {
    /// Send a force-leave of `id` at the incarnation this node holds. Refused here, before
    /// anything is sent, for an unknown or alive member, for this node itself, and — where
    /// operators are required — without an operator's fresh order for exactly this
    /// (`OperatorOrder.forceLeave`). In an open swarm `order` is ignored and the node's own
    /// wall clock dates it.
    public mutating func forceLeave(
        _ id: NodeID, prune: Bool = false, order: TimedOrder? = nil, timeout: Duration = .seconds(5), now: Instant
    ) -> (Result<ForceLeaveRequest, ForceLeaveError>, [Effect]) {
        advance(to: now)
        guard id != me.id else { return (.failure(.isSelf), flush()) }
        guard let m = table[id]?.member else { return (.failure(.unknownMember(id.description)), flush()) }
        guard m.status != .alive else { return (.failure(.alive(m.name)), flush()) }
        var f = ForceLeave(id: id, incarnation: m.incarnation, prune: prune, issuedAtMs: wallMs)
        if requiresOperator {
            f.issuedAtMs = order?.issuedAtMs ?? 0
            f.signature = order?.signature
            // Refuse here what every member would refuse (the ledger is entered when it is
            // carried out here, as everywhere).
            var refusal = check(f.order, signature: f.signature)
            if refusal == nil, !OrderLedger.fresh(issuedAtMs: f.issuedAtMs, nowMs: wallMs) { refusal = .stale }
            if let refusal {
                trust.stats.ordersRefused += 1
                return (.failure(.order(refusal)), flush())
            }
        }
        let nodes = table.liveCount - (m.status.isLive ? 1 : 0)
        let (result, effects) = query(.forceLeave, payload: f.encoded, timeout: timeout, now: now)
        let request = result.map { ForceLeaveRequest(query: $0, order: f, name: m.name, nodes: nodes) }
        return (request.mapError { .state($0) }, effects)
    }

    /// A force-leave query arrived (or is our own): verify it, carry it out, answer the asker.
    mutating func onForceLeave(_ q: Query) {
        let answer: [UInt8]
        if let f = try? ForceLeave(decoding: q.payload) {
            if let refusal = authorize(f, asker: q.id.origin) {
                answer = ForceLeaveOutcome.answer(.refused, reason: refusal)
            } else {
                answer = ForceLeaveOutcome.answer(carryOut(f))
            }
        } else {
            trust.stats.ordersRefused += 1
            answer = ForceLeaveOutcome.answer(.refused, reason: "unreadable order")
        }
        answerQuery(q, payload: answer)
    }

    /// Why this node refuses `f` (counted), or nil. Where operators are required only an
    /// operator's order counts, fresh and not seen before, whoever relays it; in an open swarm
    /// a live member's own order is obeyed (its query's signature is checked on arrival).
    private mutating func authorize(_ f: ForceLeave, asker: NodeID) -> String? {
        if requiresOperator { return admit(f.order, signature: f.signature).map { "\($0)" } }
        if asker == me.id { return nil }
        guard table[asker]?.member.status.isLive == true, !isGraylisted(asker), !isExcluded(asker) else {
            trust.stats.ordersRefused += 1
            return "the order comes from no live member of this swarm"
        }
        return nil
    }

    /// Carry out an admitted force-leave here.
    private mutating func carryOut(_ f: ForceLeave) -> ForceLeaveOutcome {
        if f.id == me.id {
            // We are alive: refute the departure, as a suspicion (Serf refutes a leave intent
            // about itself). Only an order for this life needs it: a later one already wins.
            if f.incarnation == me.incarnation, phase == .active { refute(claimed: me.incarnation) }
            return .alive
        }
        guard let current = table[f.id]?.member else { return .unknown }
        guard current.incarnation == f.incarnation else { return .otherIncarnation }
        guard current.status != .alive else { return .alive }
        if f.prune {
            forget(f.id)
            return .pruned
        }
        if current.status != .left {
            var updated = current
            updated.status = .left
            set(updated, previous: current)
            membership.forcedLeft.insert(f.id)
        }
        return .left
    }

    /// Remove a member's record and everything kept about it (Consul's `-prune`).
    mutating func forget(_ id: NodeID) {
        guard let old = membership.table.remove(id) else { return }
        membership.gone[id] = nil
        membership.lastRevive[id] = nil
        membership.revivals[id] = nil
        membership.suspicions[id] = nil
        membership.forcedLeft.remove(id)
        if membership.addressIndex[old.member.address] == id { membership.addressIndex[old.member.address] = nil }
        dropHold(id)
        emit(.memberReclaimed(id))
    }

    /// Members as this node shows them on table exchanges: a departure this node forced is
    /// its own verdict, with no leave signed by the member, so it goes out as the death it
    /// replaced (which any peer can take; a live member refutes it).
    func shared(_ members: [Member]) -> [Member] {
        guard !membership.forcedLeft.isEmpty else { return members }
        return members.map { m in
            guard membership.forcedLeft.contains(m.id) else { return m }
            var d = m
            d.status = .dead
            return d
        }
    }
}

/// A force-leave on its way: the query carrying it, the order, and how many answers to wait for.
public struct ForceLeaveRequest: Sendable, Equatable {
    public var query: Query
    public var order: ForceLeave
    /// The member's name, as this node knows it.
    public var name: String
    /// Live members other than the target when it went out (this node included).
    public var nodes: Int

    /// The tally its answers are counted into.
    public var summary: ForceLeaveSummary { ForceLeaveSummary(order, name: name, nodes: nodes) }
}

extension NodeCore {
    /// The member `nameOrID` names: a node id held here, else the member of that name — the
    /// failed one if a restarted node left an old identity behind under the same name.
    public func forceLeaveTarget(_ nameOrID: String) -> NodeID? {
        if let id = NodeID(hex: nameOrID), table[id] != nil { return id }
        let named = table.allMembers.filter { $0.name == nameOrID }
        return (named.first { $0.status != .alive } ?? named.first)?.id
    }
}
