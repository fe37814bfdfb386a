import Testing

@testable import ColonyCore

@Suite(.tags(.wire)) struct WireNamespaceTests {
    /// The first bytes are the wire format: pinned here so a change is a decision, not an accident.
    @Test func firstBytesAreTheWireFormat() {
        #expect(WireNamespace.protocolV1.rawValue == 0x01)
        #expect(WireNamespace.sealed.rawValue == 0xC1)
        #expect(WireNamespace.keyringRequest.rawValue == 0xC2)
        #expect(WireNamespace.keyringResponse.rawValue == 0xC3)
        #expect(Set(WireNamespace.allCases.map(\.rawValue)).count == WireNamespace.allCases.count)
        #expect(Wire.version == WireNamespace.currentProtocol.rawValue)
    }

    @Test func namespaceIsReadFromTheFirstByte() {
        for n in WireNamespace.allCases {
            #expect(WireNamespace(first: [n.rawValue, 0, 0]) == n)
        }
        #expect(WireNamespace(first: [UInt8]()) == nil)
        #expect(WireNamespace(first: [0x00]) == nil)
        #expect(WireNamespace(first: [0x02]) == nil)
        #expect(WireNamespace.keyringRequest.isKeyringRecovery && WireNamespace.keyringResponse.isKeyringRecovery)
        #expect(!WireNamespace.sealed.isKeyringRecovery && !WireNamespace.protocolV1.isKeyringRecovery)
    }

    @Test func plainPacketsStartWithTheProtocolNamespace() throws {
        let p = Packet(from: Fixture.id(1), message: .ping(seq: 7, target: Fixture.id(2)))
        let bytes = Wire.encode(p)
        #expect(WireNamespace(first: bytes) == .protocolV1)
        var other = bytes
        other[0] = WireNamespace.sealed.rawValue
        #expect(throws: WireError.unsupportedVersion(WireNamespace.sealed.rawValue)) { try Wire.decode(other) }
    }
}
