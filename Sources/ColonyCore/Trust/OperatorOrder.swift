/// What only an operator may order (docs/design.md §6): deposing a queen, lifting an eviction,
/// changing the swarm's keyring and forcing a failed member out (`colony force-leave`). With operator keys configured
/// (`TrustSettings.operatorKeys`, and the admission authority's key, which is one), an order
/// counts only if one of those keys signed it; no member's key will do, so a compromised
/// member cannot switch the swarm to plaintext, split it into key islands, bring an evicted
/// accomplice back or depose queens at will. Without operator keys (an open swarm, where any
/// identity is free to make) members' orders are obeyed, as before, and agents warn at start.
///
/// Each order names exactly what it orders, so a signature cannot be replayed for anything
/// else: a deposal names the queen's cell and term (a later reign is another order); a lift
/// names the eviction (its issuer and issue time); a keyring change and a force-leave carry
/// their time and are honoured only within `freshness` of the verifier's clock, once
/// (`OrderLedger`); a force-leave also names the member's incarnation (its next life is
/// another order).
public enum OperatorOrder: Sendable, Hashable {
    /// The queen of `cell` in `term` abdicates.
    case depose(cell: CellID, term: UInt64)
    /// The eviction of `evicted` that `issuer` issued at `atMs` is lifted.
    case lift(evicted: NodeID, issuer: NodeID, atMs: UInt64)
    /// Apply a keyring operation (its canonical bytes, `KeyringOperation.canonicalBytes`),
    /// issued at `issuedAtMs` (wall clock, ms since the epoch).
    case keyring(operation: [UInt8], issuedAtMs: UInt64)
    /// The failed member `id`, at `incarnation`, is made `left` (with `prune`, removed from
    /// every table), issued at `issuedAtMs` (wall clock, ms since the epoch).
    case forceLeave(id: NodeID, incarnation: UInt64, prune: Bool, issuedAtMs: UInt64)

    /// How far from the verifier's clock a timed order may be.
    public static let freshnessMs: UInt64 = 10 * 60 * 1000

    /// The bytes an operator signs: a domain tag, then the order's fields.
    public var claim: [UInt8] {
        var out: [UInt8] = Array("colony/operator/1".utf8)
        switch self {
        case .depose(let cell, let term):
            out.append(1)
            out.cellID(cell)
            out.varint(term)
        case .lift(let evicted, let issuer, let atMs):
            out.append(2)
            out.nodeID(evicted)
            out.nodeID(issuer)
            out.varint(atMs)
        case .keyring(let operation, let issuedAtMs):
            out.append(3)
            out.varint(UInt64(operation.count))
            out.append(contentsOf: operation)
            out.varint(issuedAtMs)
        case .forceLeave(let id, let incarnation, let prune, let issuedAtMs):
            out.append(4)
            out.nodeID(id)
            out.varint(incarnation)
            out.append(prune ? 1 : 0)
            out.varint(issuedAtMs)
        }
        return out
    }

    /// When a timed order was issued (nil for orders that name what they end instead).
    public var issuedAtMs: UInt64? {
        switch self {
        case .depose, .lift: nil
        case .keyring(_, let at), .forceLeave(_, _, _, let at): at
        }
    }
}

/// An operator's signature of a timed order (a keyring change, a force-leave) and when it was
/// made.
public struct TimedOrder: Sendable, Equatable {
    public var signature: Signature
    public var issuedAtMs: UInt64

    public init(signature: Signature, issuedAtMs: UInt64) {
        self.signature = signature
        self.issuedAtMs = issuedAtMs
    }
}

/// Why an order was refused.
public enum OrderRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Operator keys are configured and the order carries no signature by one of them.
    case operatorRequired
    /// Signed by a key that is no operator's, or the signature does not verify.
    case notAnOperator
    /// A timed order outside the freshness window of the verifier's clock.
    case stale
    /// Seen before within its freshness window.
    case replayed

    public var description: String {
        switch self {
        case .operatorRequired:
            "this swarm requires an operator's signature for this (give the CLI --operator DIR, the operator's key)"
        case .notAnOperator: "the order is not signed by an operator key this node trusts"
        case .stale: "the order's time is too far from this node's clock"
        case .replayed: "the order was already carried out"
        }
    }
}

/// Timed orders this node carried out, kept for their freshness window: a replay is refused.
package struct OrderLedger: Sendable {
    var seen: [[UInt8]: UInt64] = [:]
    let limit = 4096

    /// Whether an order issued at `issuedAtMs` is within the freshness window of `nowMs`.
    package static func fresh(issuedAtMs: UInt64, nowMs: UInt64) -> Bool {
        let skew = issuedAtMs > nowMs ? issuedAtMs - nowMs : nowMs - issuedAtMs
        return skew <= OperatorOrder.freshnessMs
    }

    /// Admit an order signed `signature` issued at `issuedAtMs`, at wall time `nowMs`.
    package mutating func admit(signature: [UInt8], issuedAtMs: UInt64, nowMs: UInt64) -> OrderRefusal? {
        guard Self.fresh(issuedAtMs: issuedAtMs, nowMs: nowMs) else { return .stale }
        seen = seen.filter { nowMs <= $0.value || nowMs - $0.value <= OperatorOrder.freshnessMs }
        guard seen[signature] == nil else { return .replayed }
        // Full of fresh orders: refuse rather than forget one that could then be replayed.
        guard seen.count < limit else { return .stale }
        seen[signature] = issuedAtMs
        return nil
    }
}

extension NodeCore {
    /// Operator keys are configured: orders need one's signature.
    public var requiresOperator: Bool { !operatorKeys.isEmpty }

    /// The keys whose signatures are operators' orders: the configured ones and the authority's.
    var operatorKeys: [[UInt8]] {
        settings.trust.operatorKeys + (settings.trust.authorityKey.map { [$0] } ?? [])
    }

    /// Whether `signature` is an operator's over `order` (nil if so, else why not). Without
    /// operator keys nothing is an operator's order: callers fall back to members' rules.
    public func check(_ order: OperatorOrder, signature: Signature?) -> OrderRefusal? {
        guard requiresOperator else { return .operatorRequired }
        guard let s = signature else { return .operatorRequired }
        guard let a = trust.authenticator, s.publicKey.count == Signature.publicKeyBytes,
            s.bytes.count == Signature.signatureBytes, operatorKeys.contains(s.publicKey),
            a.verify(s.bytes, of: order.claim, publicKey: s.publicKey)
        else { return .notAnOperator }
        return nil
    }

    /// An order checked and, if it is a timed one (a keyring change, a force-leave) and
    /// admitted, entered in the ledger.
    public mutating func admit(_ order: OperatorOrder, signature: Signature?) -> OrderRefusal? {
        if let refusal = check(order, signature: signature) {
            trust.stats.ordersRefused += 1
            return refusal
        }
        guard let issuedAtMs = order.issuedAtMs, let s = signature else { return nil }
        if let refusal = trust.orders.admit(signature: s.bytes, issuedAtMs: issuedAtMs, nowMs: wallMs) {
            trust.stats.ordersRefused += 1
            return refusal
        }
        return nil
    }
}
