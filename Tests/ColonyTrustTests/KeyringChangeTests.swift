import ColonyCore
import ColonyTrust
import Foundation
import Testing

/// ColonyTrust's part of a keyring change: applying an operation to a keyring, and the JSON the
/// internal query carries.
@Suite(.tags(.crypto)) struct KeyringChangeTests {
    let k1 = [UInt8](repeating: 1, count: 32)
    let k2 = [UInt8](repeating: 2, count: 32)

    @Test func aNodeWithoutAKeyringLearnsItsFirstKeyInModeOpen() throws {
        let ring = try Keyring.applying(.install(k1), to: nil)
        #expect(ring?.keys == [k1] && ring?.mode == .open, "reads sealed packets, still sends plain")
        #expect(try Keyring.applying(.list, to: nil) == nil)
        for op in [KeyringOperation.use(k1), .remove(k1), .mode(.require)] {
            #expect(throws: KeyringError.noKeyring) { try Keyring.applying(op, to: nil) }
        }
    }

    @Test func rotationStepsApplyInOrder() throws {
        var ring = try Keyring.applying(.install(k2), to: Keyring(primary: k1))
        #expect(ring?.keys == [k1, k2])
        ring = try Keyring.applying(.use(k2), to: ring)
        #expect(ring?.primary == k2)
        ring = try Keyring.applying(.remove(k1), to: ring)
        #expect(ring?.keys == [k2])
        #expect(throws: KeyringError.removingPrimary) { try Keyring.applying(.remove(k2), to: ring) }
        #expect(throws: KeyringError.notInstalled) { try Keyring.applying(.use(k1), to: ring) }
        #expect(throws: KeyringError.wrongLength(3)) { try Keyring.applying(.install([1, 2, 3]), to: ring) }
        #expect(try Keyring.applying(.mode(.accept), to: ring)?.mode == .accept)
    }

    @Test func theQueryPayloadRoundTrips() throws {
        for op in [KeyringOperation.list, .install(k1), .use(k2), .remove(k1), .mode(.accept)] {
            #expect(try KeyringOperation(payload: op.payload) == op)
        }
        #expect(throws: KeyringError.self) { try KeyringOperation(payload: Array("not json".utf8)) }
        #expect(throws: KeyringError.self) { try KeyringOperation(payload: Array(#"{"op":"drop"}"#.utf8)) }
        let answer = KeyringAnswer(state: KeyringState(keyring: try Keyring(primary: k1)), error: "x")
        #expect(KeyringAnswer(payload: answer.encoded()) == answer)
        #expect(KeyringAnswer(payload: [0xFF]) == nil)
    }

    @Test func aFingerprintNamesAKeyWithoutRevealingIt() throws {
        let b64 = Data(k1).base64EncodedString()
        let fp = KeyringState.fingerprint(b64)
        #expect(fp.hasPrefix("sha256:") && fp.count == "sha256:".count + 16 && !fp.contains(b64))
        #expect(KeyringState.fingerprint(Data(k2).base64EncodedString()) != fp)
    }
}
