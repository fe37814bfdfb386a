import ColonyCore
import Crypto
import Foundation

/// A certified node that missed key rotations (it was offline) gets the current keyring
/// over an authenticated exchange, with no manual step (Serf cannot: serf#579).
///
/// Request (a plain frame starting with `WireNamespace.keyringRequest`): the node's
/// certificate, a fresh X25519 key, the time, signed with the node's Ed25519 key. A member
/// that admits by the same authority checks the certificate, the signature, the time and that
/// the identity is not revoked, then answers (`WireNamespace.keyringResponse`): its own
/// certificate, its X25519 key, the keyring sealed with AES-256-GCM under a key derived
/// (HKDF-SHA256) from the two X25519 keys, all signed with its Ed25519 key. The requester
/// checks the responder's certificate and signature before installing anything: nobody
/// without a certificate can hand it a keyring, or get one.
package enum KeyringRecovery {
    struct RequestBody: Codable {
        var certificate: CertificateFile
        var ephemeral: String
        var atMs: UInt64
        var signature: String
    }

    struct ResponseBody: Codable {
        var certificate: CertificateFile
        var requestEphemeral: String
        var ephemeral: String
        var sealed: String
        var signature: String
    }

    /// A request in flight: the X25519 key to open the answer with.
    public struct Pending: Sendable {
        let ephemeral: Curve25519.KeyAgreement.PrivateKey
        public let atMs: UInt64
    }

    static func requestClaim(ephemeral: Data, atMs: UInt64) -> [UInt8] {
        var out: [UInt8] = Array("colony/keyring-request/1".utf8)
        out += ephemeral
        withUnsafeBytes(of: atMs.bigEndian) { out += $0 }
        return out
    }

    static func responseClaim(requestEphemeral: Data, ephemeral: Data, sealed: Data) -> [UInt8] {
        Array("colony/keyring-response/1".utf8) + requestEphemeral + ephemeral + sealed
    }

    public static func request(certificate: Certificate, signer: Curve25519.Signing.PrivateKey, atMs: UInt64) -> (
        bytes: [UInt8], pending: Pending
    ) {
        let eph = Curve25519.KeyAgreement.PrivateKey()
        let pub = eph.publicKey.rawRepresentation
        let sig = (try? signer.signature(for: requestClaim(ephemeral: pub, atMs: atMs))) ?? Data()
        let body = RequestBody(
            certificate: CertificateFile(certificate), ephemeral: pub.base64EncodedString(), atMs: atMs,
            signature: sig.base64EncodedString())
        return (
            [WireNamespace.keyringRequest.rawValue] + Array((try? JSONEncoder().encode(body)) ?? Data()),
            Pending(ephemeral: eph, atMs: atMs)
        )
    }

    /// Answer a request, or say why not. `isRevoked` asks the core.
    public static func answer(
        _ bytes: [UInt8], keyring: Keyring, authority: [UInt8], certificate: Certificate,
        signer: Curve25519.Signing.PrivateKey, nowMs: UInt64, windowMs: UInt64,
        isRevoked: (NodeID) -> Bool
    ) throws -> [UInt8] {
        guard WireNamespace(first: bytes) == .keyringRequest,
            let body = try? JSONDecoder().decode(RequestBody.self, from: Data(bytes.dropFirst())),
            let cert = body.certificate.certificate, let eph = Data(base64Encoded: body.ephemeral),
            let sig = Data(base64Encoded: body.signature)
        else { throw TrustError("malformed keyring request") }
        guard Ed25519Authenticator.verify(cert.signature, of: SignedClaim.certificate(cert), publicKey: authority)
        else { throw TrustError("the requester's certificate is not from this swarm's authority") }
        guard cert.expiresMs > nowMs else { throw TrustError("the requester's certificate expired") }
        guard !isRevoked(Ed25519Authenticator.nodeID(for: cert.publicKey)) else {
            throw TrustError("the requester's identity is revoked")
        }
        guard
            Ed25519Authenticator.verify(
                sig, of: requestClaim(ephemeral: eph, atMs: body.atMs), publicKey: cert.publicKey)
        else { throw TrustError("the request is not signed by the certified key") }
        guard Int64(bitPattern: body.atMs &- nowMs).magnitude <= windowMs else {
            throw TrustError("the request is stale")
        }
        let theirs = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: eph)
        let mine = Curve25519.KeyAgreement.PrivateKey()
        let key = try derive(
            mine.sharedSecretFromKeyAgreement(with: theirs), requestEphemeral: eph,
            responseEphemeral: mine.publicKey.rawRepresentation)
        let sealed = try AES.GCM.seal(keyring.encoded(), using: key).combined ?? Data()
        let rsig = try signer.signature(
            for: responseClaim(requestEphemeral: eph, ephemeral: mine.publicKey.rawRepresentation, sealed: sealed))
        let response = ResponseBody(
            certificate: CertificateFile(certificate), requestEphemeral: eph.base64EncodedString(),
            ephemeral: mine.publicKey.rawRepresentation.base64EncodedString(), sealed: sealed.base64EncodedString(),
            signature: rsig.base64EncodedString())
        return [WireNamespace.keyringResponse.rawValue] + Array(try JSONEncoder().encode(response))
    }

    /// Open an answer to `pending`: the keyring, if the responder is certified and signed it.
    public static func open(
        _ bytes: [UInt8], pending: Pending, authority: [UInt8], nowMs: UInt64, isRevoked: (NodeID) -> Bool
    ) throws -> Keyring {
        guard WireNamespace(first: bytes) == .keyringResponse,
            let body = try? JSONDecoder().decode(ResponseBody.self, from: Data(bytes.dropFirst())),
            let cert = body.certificate.certificate, let reqEph = Data(base64Encoded: body.requestEphemeral),
            let eph = Data(base64Encoded: body.ephemeral), let sealed = Data(base64Encoded: body.sealed),
            let sig = Data(base64Encoded: body.signature)
        else { throw TrustError("malformed keyring answer") }
        guard reqEph == pending.ephemeral.publicKey.rawRepresentation else {
            throw TrustError("the answer is to another request")
        }
        guard Ed25519Authenticator.verify(cert.signature, of: SignedClaim.certificate(cert), publicKey: authority),
            cert.expiresMs > nowMs,
            !isRevoked(Ed25519Authenticator.nodeID(for: cert.publicKey))
        else { throw TrustError("the responder is not certified by this swarm's authority") }
        guard
            Ed25519Authenticator.verify(
                sig, of: responseClaim(requestEphemeral: reqEph, ephemeral: eph, sealed: sealed),
                publicKey: cert.publicKey)
        else {
            throw TrustError("the answer is not signed by the responder's certified key")
        }
        let theirs = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: eph)
        let key = try derive(
            pending.ephemeral.sharedSecretFromKeyAgreement(with: theirs), requestEphemeral: reqEph,
            responseEphemeral: eph)
        let json = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
        return try Keyring(json: json)
    }

    static func derive(_ secret: SharedSecret, requestEphemeral: Data, responseEphemeral: Data) throws -> SymmetricKey {
        secret.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: requestEphemeral + responseEphemeral,
            sharedInfo: Data("colony keyring recovery".utf8), outputByteCount: 32)
    }
}
