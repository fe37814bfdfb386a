import Testing

@testable import ColonyCore

/// SWIM's ordering of claims (docs/design.md §2) on the `Membership` machine alone: what each
/// claim means against the table, with no node, no signatures and no timers.
@Suite(.tags(.machine)) struct MembershipClaimTests {
    /// Us (0, incarnation 5), an alive member 1 at 3, a suspect 2 at 4, a dead 3 at 2, a left 4 at 1.
    func machine() -> Membership {
        var table = MemberTable()
        let rows = [
            Fixture.member(0, incarnation: 5), Fixture.member(1, incarnation: 3),
            Fixture.member(2, incarnation: 4, status: .suspect), Fixture.member(3, incarnation: 2, status: .dead),
            Fixture.member(4, incarnation: 1, status: .left),
        ]
        for m in rows { table.upsert(m, at: .zero) }
        return Membership(me: rows[0], table: table, awareness: Awareness(max: 8))
    }

    @Test func aliveNeedsAHigherIncarnation() {
        let m = machine()
        #expect(m.ruling(alive: Fixture.member(1, incarnation: 3)) == .redundant, "same incarnation")
        #expect(m.ruling(alive: Fixture.member(1, incarnation: 2)) == .redundant, "older")
        #expect(
            m.ruling(alive: Fixture.member(1, incarnation: 4))
                == .adopt(Fixture.member(1, incarnation: 4), previous: Fixture.member(1, incarnation: 3)))
        // An alive claim revives the dead and the suspect only at a higher incarnation.
        #expect(m.ruling(alive: Fixture.member(3, incarnation: 2)) == .redundant)
        if case .adopt(let revived, _) = m.ruling(alive: Fixture.member(3, incarnation: 3)) {
            #expect(revived.status == .alive && revived.incarnation == 3)
        } else {
            Issue.record("a newer alive claim revives a dead member")
        }
        #expect(m.ruling(alive: Fixture.member(9)) == .adopt(Fixture.member(9), previous: nil), "a stranger joins")
        #expect(m.isNews(alive: Fixture.member(9)) && !m.isNews(alive: Fixture.member(1, incarnation: 3)))
    }

    @Test func anAliveClaimInAnUnsupportedVersionIsRefused() {
        var old = Fixture.member(9)
        old.protocolVersion = ProtocolVersion.minimumSupported - 1
        #expect(machine().ruling(alive: old) == .unsupportedVersion)
        #expect(machine().isNews(alive: old), "news still pays for its signature check first")
    }

    @Test func claimsAboutUsAreRefutedWhenNewer() {
        let m = machine()
        #expect(m.ruling(alive: Fixture.member(0, incarnation: 5)) == .redundant, "what we hold")
        #expect(m.ruling(alive: Fixture.member(0, incarnation: 4)) == .redundant)
        #expect(m.ruling(alive: Fixture.member(0, incarnation: 6)) == .refute)
        var renamed = Fixture.member(0, incarnation: 5)
        renamed.tags = ["role": "forged"]
        #expect(m.ruling(alive: renamed) == .refute, "same incarnation, other metadata")
        #expect(m.ruling(suspect: Fixture.id(0), incarnation: 1) == .refute, "every suspicion of us")
        #expect(m.ruling(dead: Fixture.id(0), incarnation: 1, left: false, signature: nil) == .refute)
    }

    @Test func suspicionOrdering() {
        let m = machine()
        #expect(m.ruling(suspect: Fixture.id(9), incarnation: 1) == .unknown, "strangers are not suspected")
        #expect(m.ruling(suspect: Fixture.id(1), incarnation: 2) == .redundant, "older than the alive row")
        let suspect = Fixture.member(1, incarnation: 3, status: .suspect)
        #expect(
            m.ruling(suspect: Fixture.id(1), incarnation: 3)
                == .adopt(suspect, previous: Fixture.member(1, incarnation: 3)),
            "suspect beats alive at equal incarnation")
        #expect(m.ruling(suspect: Fixture.id(2), incarnation: 4) == .confirm, "the suspicion we hold, heard again")
        #expect(m.ruling(suspect: Fixture.id(2), incarnation: 3) == .redundant)
        if case .adopt(let s, _) = m.ruling(suspect: Fixture.id(2), incarnation: 5) {
            #expect(s.status == .suspect && s.incarnation == 5)
        } else {
            Issue.record("a suspicion at a newer incarnation is news")
        }
        #expect(m.ruling(suspect: Fixture.id(3), incarnation: 9) == .redundant, "the dead are not suspected")
        #expect(m.ruling(suspect: Fixture.id(4), incarnation: 9) == .redundant, "nor those who left")
    }

    @Test func deathAndDepartureOrdering() {
        let m = machine()
        #expect(m.ruling(dead: Fixture.id(9), incarnation: 1, left: false, signature: nil) == .unknown)
        #expect(m.ruling(dead: Fixture.id(1), incarnation: 2, left: false, signature: nil) == .redundant)
        if case .adopt(let d, _) = m.ruling(dead: Fixture.id(1), incarnation: 3, left: false, signature: nil) {
            #expect(d.status == .dead && d.incarnation == 3, "dead beats alive at equal incarnation")
        } else {
            Issue.record("death at the member's incarnation is news")
        }
        #expect(m.ruling(dead: Fixture.id(3), incarnation: 2, left: false, signature: nil) == .redundant, "known")
        if case .adopt(let l, _) = m.ruling(dead: Fixture.id(3), incarnation: 2, left: true, signature: nil) {
            #expect(l.status == .left, "left beats dead at equal incarnation")
        } else {
            Issue.record("a departure outranks a death")
        }
        #expect(
            m.ruling(dead: Fixture.id(4), incarnation: 99, left: false, signature: nil) == .redundant, "left is final")
        #expect(m.ruling(dead: Fixture.id(4), incarnation: 99, left: true, signature: nil) == .redundant)
    }

    @Test func suspicionTimeoutsFollowLifeguard() {
        let settings = Settings()
        let few = Membership.suspicion(
            incarnation: 1, from: Fixture.id(1), startedAt: .zero, members: settings.suspicionMultiplier - 1,
            settings: settings)
        #expect(few.expectedConfirmations == 0, "too few members to expect confirmations")
        let many = Membership.suspicion(
            incarnation: 1, from: Fixture.id(1), startedAt: .zero, members: 100, settings: settings)
        #expect(many.expectedConfirmations == settings.suspicionMultiplier - 2)
        #expect(many.maximumTimeout == many.minimumTimeout * settings.suspicionMaxTimeoutMultiplier)
        #expect(many.minimumTimeout == settings.suspicionMinimum(members: 100))
        #expect(many.deadline == Instant.zero + many.maximumTimeout, "unconfirmed, the longest timeout")
    }

    /// Issue 18: a claim near the ceiling would force a refutation past it that every node
    /// refuses (the gate admits nothing at or past 2^62), killing the identity for good.
    @Test func incarnationsThatLeapBeyondAnyHistoryAreImplausible() {
        let m = machine()
        let leap = Membership.maxIncarnationLeap
        let far = (1 << 62) - 1 as UInt64
        #expect(m.ruling(suspect: Fixture.id(0), incarnation: far) == .implausible, "about us: no refutation")
        #expect(m.ruling(dead: Fixture.id(0), incarnation: far, left: false, signature: nil) == .implausible)
        #expect(m.ruling(suspect: Fixture.id(1), incarnation: far) == .implausible)
        #expect(m.ruling(dead: Fixture.id(1), incarnation: 3 + leap + 1, left: true, signature: nil) == .implausible)
        #expect(m.ruling(alive: Fixture.member(1, incarnation: far)) == .implausible)
        #expect(m.ruling(alive: Fixture.member(9, incarnation: leap + 1)) == .implausible, "nor a stranger's")
        // Within the leap the usual order holds (a restarted in-memory node refutes far above).
        #expect(m.ruling(suspect: Fixture.id(0), incarnation: 5 + leap) == .refute)
        if case .adopt = m.ruling(suspect: Fixture.id(1), incarnation: 3 + leap) {
        } else {
            Issue.record("a leap within the bound is ordinary news")
        }
    }
}
