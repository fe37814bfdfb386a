/// SWIM's ordering of claims about a member (docs/design.md §2), decided against the table
/// alone: a higher incarnation wins; at equal incarnations a worse status wins (alive < suspect
/// < dead < left); a claim about ourselves that is newer than we know is refuted; `left` is
/// final. `NodeCore+Merge` checks signatures, admission and exclusion around these rulings and
/// performs them (the table, suspicion timers, news to pass on).
extension Membership {
    /// What a claim means here.
    enum Ruling: Sendable, Equatable {
        /// It is about us and newer than what we hold: refute it with a higher incarnation.
        case refute
        /// Nothing new (older, equal, or about a member gone for good): receivers are idempotent.
        case redundant
        /// About a member we do not know (suspicion and death of strangers are ignored).
        case unknown
        /// An alive claim from a protocol version this node does not speak.
        case unsupportedVersion
        /// An incarnation further above the one held than any history could reach
        /// (`maxIncarnationLeap`): obeyed, it would spend the identity's counter for good.
        case implausible
        /// The suspicion we hold, heard again: a confirmation (Lifeguard §IV.B).
        case confirm
        /// News: the member becomes `member` (its previous row is `previous`).
        case adopt(Member, previous: Member?)
    }

    /// How far a claim's incarnation may lie above the one held for its member (or, about us,
    /// above ours). Incarnations grow by one a refutation or restart, so honest histories stay
    /// far below; a forged claim near the ceiling would otherwise force a refutation past it
    /// that every node refuses, killing the identity for good. 2^32 leaves a forger 2^30
    /// claims to reach the ceiling.
    static let maxIncarnationLeap: UInt64 = 1 << 32

    func implausible(_ incarnation: UInt64, above held: UInt64) -> Bool {
        incarnation > held && incarnation - held > Self.maxIncarnationLeap
    }

    /// A suspicion or death claim at an incarnation its member never signed an alive claim
    /// for (with signatures on, an honest accuser names the incarnation it holds, which the
    /// member signed): a forgery that would make the member refute, and everyone who believed
    /// it hold an incarnation nobody used (the byzantine scenario found it). Ignored; a
    /// receiver that is behind hears the accusation again once it holds the member's claim.
    func unsigned(_ incarnation: UInt64, above held: UInt64) -> Bool {
        signedIncarnations && incarnation > held
    }

    /// Same name, address, tags and version: an alive claim at our own incarnation that differs
    /// in these is refuted (someone speaks for us with other metadata).
    static func sameMetadata(_ a: Member, _ b: Member) -> Bool {
        a.name == b.name && a.address == b.address && a.tags == b.tags && a.protocolVersion == b.protocolVersion
    }

    /// Whether an alive claim would be news, before any version check: only news pays for a
    /// signature check.
    func isNews(alive m: Member) -> Bool {
        if m.id == me.id {
            return m.incarnation > me.incarnation || (m.incarnation == me.incarnation && !Self.sameMetadata(m, me))
        }
        return table[m.id].map { m.incarnation > $0.member.incarnation } ?? true
    }

    /// An alive claim: refute one about us that is news; adopt a newer incarnation of another.
    func ruling(alive m: Member) -> Ruling {
        if implausible(m.incarnation, above: (m.id == me.id ? me : table[m.id]?.member)?.incarnation ?? 0) {
            return .implausible
        }
        if m.id == me.id { return isNews(alive: m) ? .refute : .redundant }
        guard m.protocolVersion >= ProtocolVersion.minimumSupported else { return .unsupportedVersion }
        let previous = table[m.id]?.member
        if let previous, m.incarnation <= previous.incarnation { return .redundant }
        var updated = m
        updated.status = .alive
        return .adopt(updated, previous: previous)
    }

    /// A suspicion: any about us is refuted; a suspicion at an older incarnation, or of a member
    /// gone, changes nothing; the one we hold already is a confirmation.
    func ruling(suspect id: NodeID, incarnation: UInt64) -> Ruling {
        if id == me.id {
            let forged = implausible(incarnation, above: me.incarnation) || unsigned(incarnation, above: me.incarnation)
            return forged ? .implausible : .refute
        }
        guard let current = table[id]?.member else { return .unknown }
        if implausible(incarnation, above: current.incarnation) || unsigned(incarnation, above: current.incarnation) {
            return .implausible
        }
        if incarnation < current.incarnation || current.status.isGone { return .redundant }
        if current.status == .suspect && incarnation == current.incarnation { return .confirm }
        var updated = current
        updated.incarnation = incarnation
        updated.status = .suspect
        return .adopt(updated, previous: current)
    }

    /// A death (`left` false) or a signed departure (`left` true): any about us is refuted; it
    /// wins over what we hold at a higher incarnation, or at the same one with a worse status;
    /// nothing wins over `left`.
    func ruling(dead id: NodeID, incarnation: UInt64, left: Bool, signature: Signature?) -> Ruling {
        // A departure is signed by the member itself (checked by the caller): any incarnation.
        let forged = { (held: UInt64) in
            self.implausible(incarnation, above: held) || (!left && self.unsigned(incarnation, above: held))
        }
        if id == me.id { return forged(me.incarnation) ? .implausible : .refute }
        guard let current = table[id]?.member else { return .unknown }
        if forged(current.incarnation) { return .implausible }
        let status: MemberStatus = left ? .left : .dead
        if incarnation < current.incarnation
            || (incarnation == current.incarnation && status.rank <= current.status.rank)
            || current.status == .left
        {
            return .redundant
        }
        var updated = current
        updated.incarnation = incarnation
        updated.status = status
        if left { updated.signature = signature }
        return .adopt(updated, previous: current)
    }

    /// A suspicion of a member started at `startedAt` while `members` are live (Lifeguard: the
    /// timeout starts at `suspicionMaxTimeoutMultiplier` × the minimum and shrinks with each of
    /// the `suspicionMultiplier − 2` independent confirmations expected).
    static func suspicion(
        incarnation: UInt64, from: NodeID, startedAt: Instant, members n: Int, settings: Settings
    ) -> Suspicion {
        let shortest = settings.suspicionMinimum(members: n)
        let longest = shortest * settings.suspicionMaxTimeoutMultiplier
        var k = settings.suspicionMultiplier - 2
        if n - 2 < k { k = 0 }
        return Suspicion(
            incarnation: incarnation, from: from, startedAt: startedAt,
            minimumTimeout: shortest, maximumTimeout: longest, expectedConfirmations: k)
    }
}
