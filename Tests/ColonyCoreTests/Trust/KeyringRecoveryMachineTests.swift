import Testing

@testable import ColonyCore

@Suite(.tags(.machine)) struct KeyringRecoveryMachineTests {
    let seeds = [Fixture.address(1), Fixture.address(2)]
    let able = KeyringRecoveryMachine.Standing(admission: true, certified: true, hasKeyring: true)

    @Test func aFailedJoinAsksTheSeedsAtMostOncePerInterval() {
        var m = KeyringRecoveryMachine(interval: TrustSettings().keyringRecoveryInterval)
        #expect(m.interval == .seconds(5), "the default interval is 5 s")
        #expect(
            m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(1_000)) == [.sendRequest(to: seeds)])
        #expect(m.awaitingAnswer && m.lastRequestAt == Fixture.ms(1_000))
        #expect(m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(5_999)).isEmpty, "within 5 s")
        #expect(
            m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(6_000)) == [.sendRequest(to: seeds)])
        #expect(m.lastRequestAt == Fixture.ms(6_000))
    }

    @Test func theIntervalIsASetting() {
        var m = KeyringRecoveryMachine(interval: .seconds(1))
        #expect(m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(0)).count == 1)
        #expect(m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(999)).isEmpty)
        #expect(m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(1_000)).count == 1)
    }

    @Test func onlyACertifiedNodeWithAKeyringUnderAdmissionAsks() {
        for standing in [
            KeyringRecoveryMachine.Standing(admission: false, certified: true, hasKeyring: true),
            KeyringRecoveryMachine.Standing(admission: true, certified: false, hasKeyring: true),
            KeyringRecoveryMachine.Standing(admission: true, certified: true, hasKeyring: false),
        ] {
            var m = KeyringRecoveryMachine(interval: .seconds(5))
            #expect(m.handle(.joinFailed(seeds: seeds), standing: standing, now: Fixture.ms(0)).isEmpty)
            #expect(!m.awaitingAnswer && m.lastRequestAt == nil, "a refusal does not start the interval")
        }
    }

    @Test func requestsAreAnsweredOnlyByACertifiedNodeWithAKeyring() {
        var m = KeyringRecoveryMachine(interval: .seconds(5))
        let from = Fixture.address(7)
        #expect(
            m.handle(.frame(.keyringRequest, from: from), standing: able, now: Fixture.ms(0)) == [
                .answerRequest(from: from)
            ])
        let plain = KeyringRecoveryMachine.Standing(admission: false, certified: true, hasKeyring: true)
        #expect(m.handle(.frame(.keyringRequest, from: from), standing: plain, now: Fixture.ms(0)).isEmpty)
        let keyless = KeyringRecoveryMachine.Standing(admission: true, certified: true, hasKeyring: false)
        #expect(m.handle(.frame(.keyringRequest, from: from), standing: keyless, now: Fixture.ms(0)).isEmpty)
        let uncertified = KeyringRecoveryMachine.Standing(admission: true, certified: false, hasKeyring: true)
        #expect(m.handle(.frame(.keyringRequest, from: from), standing: uncertified, now: Fixture.ms(0)).isEmpty)
        for other in [WireNamespace.protocolV1, .sealed] {
            #expect(m.handle(.frame(other, from: from), standing: able, now: Fixture.ms(0)).isEmpty)
        }
    }

    @Test func answersAreOpenedOnlyWhileARequestIsOutThenTheNodeRejoins() {
        var m = KeyringRecoveryMachine(interval: .seconds(5))
        let from = Fixture.address(1)
        #expect(m.handle(.frame(.keyringResponse, from: from), standing: able, now: Fixture.ms(0)).isEmpty, "unasked")
        _ = m.handle(.joinFailed(seeds: seeds), standing: able, now: Fixture.ms(0))
        #expect(
            m.handle(.frame(.keyringResponse, from: from), standing: able, now: Fixture.ms(10)) == [
                .openAnswer(from: from)
            ])
        // A refused answer (the driver could not open it) leaves the request out.
        #expect(
            m.handle(.frame(.keyringResponse, from: from), standing: able, now: Fixture.ms(20)) == [
                .openAnswer(from: from)
            ])
        #expect(m.handle(.answerOpened(seeds: seeds), standing: able, now: Fixture.ms(30)) == [.rejoin(seeds: seeds)])
        #expect(!m.awaitingAnswer)
        #expect(m.handle(.frame(.keyringResponse, from: from), standing: able, now: Fixture.ms(40)).isEmpty, "answered")
        var idle = KeyringRecoveryMachine(interval: .seconds(5))
        _ = idle.handle(.joinFailed(seeds: []), standing: able, now: Fixture.ms(0))
        #expect(
            idle.handle(.answerOpened(seeds: []), standing: able, now: Fixture.ms(1)).isEmpty, "no seeds: no rejoin")
    }
}
