import ColonyCore
import Crypto
import Foundation

/// The real `Authenticator`: Ed25519 (swift-crypto). A node id is the first 128 bits of the
/// SHA-256 of the public key, so only the key's holder can sign for the id.
package struct Ed25519Authenticator: Authenticator {
    let privateKey: Curve25519.Signing.PrivateKey
    public let publicKey: [UInt8]

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = Array(privateKey.publicKey.rawRepresentation)
    }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        // Signing with a valid key cannot fail.
        Array((try? privateKey.signature(for: message)) ?? Data())
    }

    public func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        Self.verify(signature, of: message, publicKey: publicKey)
    }

    /// Verification needs no private key.
    public static func verify<S: DataProtocol, M: DataProtocol>(_ signature: S, of message: M, publicKey: [UInt8])
        -> Bool
    {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    public func nodeID(for publicKey: [UInt8]) -> NodeID { Self.nodeID(for: publicKey) }

    public static func nodeID(for publicKey: [UInt8]) -> NodeID {
        NodeID(bytes: Array(SHA256.hash(data: publicKey)))!
    }
}
