import Testing

@testable import ColonyCore

@Suite(.tags(.machine)) struct KeyringChangeMachineTests {
    let key = [UInt8](repeating: 7, count: 32)

    @Test func keysLeaveOnlyANodeThatSeals() {
        #expect(KeyringChangeMachine.check(.list, mode: nil) == .noKeyring, "no keyring: nothing to seal with")
        #expect(KeyringChangeMachine.check(.mode(.accept), mode: nil) == .noKeyring)
        for op in [KeyringOperation.list, .install(key), .use(key), .remove(key)] {
            #expect(KeyringChangeMachine.check(op, mode: .open) == .notSealing, "\(op) would travel in the clear")
            #expect(KeyringChangeMachine.check(op, mode: .accept) == nil)
            #expect(KeyringChangeMachine.check(op, mode: .require) == nil)
        }
        #expect(KeyringChangeMachine.check(.mode(.accept), mode: .open) == nil, "a mode change carries no key")
    }

    @Test func theTallyEndsWhenEveryLiveMemberAnswered() {
        var m = KeyringChangeMachine()
        m.start(query: 9, live: 3)
        let a = KeyringState(keys: ["k2", "k1"], mode: "require")
        let b = KeyringState(keys: ["k1"], mode: "accept")
        #expect(m.record(query: 9, from: "a", answer: KeyringAnswer(state: a, error: nil)) == nil)
        #expect(
            m.record(query: 9, from: "b", answer: KeyringAnswer(state: b, error: "the key is not installed")) == nil)
        let done = m.record(query: 9, from: "c", answer: nil)
        #expect(done?.nodes == 3 && done?.responses == 3)
        #expect(done?.keys == ["k1": 2, "k2": 1])
        #expect(done?.primaryKeys == ["k2": 1, "k1": 1])
        #expect(done?.modes == ["require": 1, "accept": 1])
        #expect(done?.errors == ["b": "the key is not installed", "c": "unreadable answer"])
        #expect(done?.complete == false, "errors make it incomplete")
        #expect(m.pending.isEmpty, "a finished change is forgotten")
        #expect(m.record(query: 9, from: "d", answer: nil) == nil, "a late answer changes nothing")
    }

    @Test func theDeadlineEndsItWithWhatAnswered() {
        var m = KeyringChangeMachine()
        m.start(query: 1, live: 2)
        m.start(query: 2, live: 1)
        #expect(
            m.record(query: 1, from: "a", answer: KeyringAnswer(state: .init(keys: ["k"], mode: "require"), error: nil))
                == nil)
        let partial = m.finish(query: 1)
        #expect(partial?.responses == 1 && partial?.nodes == 2 && partial?.complete == false)
        #expect(m.finish(query: 1) == nil, "finished once")
        #expect(m.pending.keys.sorted() == [2], "other changes go on")
        let all = m.record(
            query: 2, from: "b", answer: KeyringAnswer(state: .init(keys: ["k"], mode: "require"), error: nil))
        #expect(all?.complete == true)
    }

    @Test func aNodeThatDoesNotSealNamesItsKeysByFingerprint() {
        let state = KeyringState(keys: ["secret1", "secret2"], mode: "open")
        let plain = KeyringChangeMachine.answer(state: state, error: nil, seals: false) { "fp(\($0))" }
        #expect(plain.state.keys == ["fp(secret1)", "fp(secret2)"] && plain.state.mode == "open")
        let sealed = KeyringChangeMachine.answer(state: state, error: "e", seals: true) { "fp(\($0))" }
        #expect(sealed.state.keys == ["secret1", "secret2"] && sealed.error == "e")
    }

    @Test func theModeSealsFromAcceptOn() {
        #expect(!KeyringMode.open.seals && KeyringMode.accept.seals && KeyringMode.require.seals)
        #expect(KeyringMode.open.acceptsPlain && KeyringMode.accept.acceptsPlain && !KeyringMode.require.acceptsPlain)
        #expect(KeyringOperation.queryName == ColonyQuery.keyring.rawValue)
    }
}
