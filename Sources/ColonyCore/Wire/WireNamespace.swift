/// The first byte of everything Colony puts on the wire (a datagram or a stream frame): which
/// namespace, and so which decoder, the rest belongs to. This enum is the one place those bytes
/// are defined; encoders write `rawValue` and receivers dispatch on `init(first:)`.
///
/// The values are the wire format and never change: a new namespace takes a new byte.
package enum WireNamespace: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A plain core protocol packet, wire version 1 (`Packet`, see `Wire`):
    /// `version u8 | flags u8 | key id u8 | from 16B | kind u8 | body | updates`.
    case protocolV1 = 0x01
    /// A packet or frame sealed with the keyring (`Envelope` in ColonyTrust):
    /// `marker u8 | sent-at ms u64 | nonce 12B | ciphertext | tag 16B`.
    case sealed = 0xC1
    /// A packet authenticated to its sender by a pair MAC (`PacketAuthentication` in
    /// ColonyTrust): `marker u8 | sender's Ed25519 key 32B | tag 16B | packet`.
    case authenticated = 0xA1
    /// A packet signed by its sender (to a recipient whose key it does not know yet):
    /// `marker u8 | sender's Ed25519 key 32B | signature 64B | packet`.
    case signed = 0xA2
    /// A keyring-recovery request (a plain stream frame; `KeyringRecovery` in ColonyTrust).
    case keyringRequest = 0xC2
    /// A keyring-recovery response (a plain stream frame).
    case keyringResponse = 0xC3

    /// The namespace of a packet or frame, by its first byte; nil if empty or unknown.
    public init?<C: Collection>(first bytes: C) where C.Element == UInt8 {
        guard let b = bytes.first else { return nil }
        self.init(rawValue: b)
    }

    /// The core protocol version this build speaks: the first byte of its plain packets.
    public static let currentProtocol: WireNamespace = .protocolV1

    /// True for the namespaces of the keyring-recovery exchange (stream frames only).
    public var isKeyringRecovery: Bool { self == .keyringRequest || self == .keyringResponse }

    public var description: String {
        switch self {
        case .protocolV1: "protocol-v1"
        case .sealed: "sealed"
        case .authenticated: "authenticated"
        case .signed: "signed"
        case .keyringRequest: "keyring-request"
        case .keyringResponse: "keyring-response"
        }
    }
}
