import ColonyCore
import ColonyTrust
import Crypto
import Foundation

/// A node's durable identity: an Ed25519 key pair, and the node id derived from the public
/// key (the first 128 bits of its SHA-256), so an id cannot be claimed without the key.
package struct NodeIdentity: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey
    public var publicKey: Curve25519.Signing.PublicKey { privateKey.publicKey }
    /// The 32-byte Ed25519 public key.
    public var publicKeyBytes: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }
    public let id: NodeID

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.id = Self.nodeID(for: privateKey.publicKey)
    }

    public static func generate() -> NodeIdentity { NodeIdentity(privateKey: .init()) }

    public static func nodeID(for publicKey: Curve25519.Signing.PublicKey) -> NodeID {
        Ed25519Authenticator.nodeID(for: Array(publicKey.rawRepresentation))
    }
}
