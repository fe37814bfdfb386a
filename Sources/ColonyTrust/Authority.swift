import ColonyCore
import Crypto
import Foundation

/// A swarm authority (`colony cert authority init`): an Ed25519 key that signs node
/// certificates and revocations. Its public key, given to every agent (`--authority`),
/// turns admission on.
public struct Authority: Sendable {
    let privateKey: Curve25519.Signing.PrivateKey
    public var publicKey: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }
    public var publicKeyBase64: String { Data(publicKey).base64EncodedString() }

    public init(privateKey: Curve25519.Signing.PrivateKey) { self.privateKey = privateKey }

    public static func generate() -> Authority { Authority(privateKey: .init()) }

    static func keyURL(_ dir: String) -> URL { URL(fileURLWithPath: dir).appendingPathComponent("authority.key") }

    /// Save the private key (owner-only) and the public key beside it.
    public func save(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let url = Self.keyURL(directory)
        guard !FileManager.default.fileExists(atPath: url.path) else {
            throw TrustError("\(url.path) exists: an authority is already initialised there")
        }
        do {
            try DurableFile.write(
                Data(privateKey.rawRepresentation.base64EncodedString().utf8), to: url.path, mode: DurableFile.secret)
            try DurableFile.write(
                Data((publicKeyBase64 + "\n").utf8),
                to: URL(fileURLWithPath: directory).appendingPathComponent("authority.pub").path,
                mode: DurableFile.shared)
        } catch {
            throw TrustError("\(error)")
        }
    }

    public static func load(directory: String) throws -> Authority {
        let url = keyURL(directory)
        guard let text = try? String(contentsOf: url, encoding: .utf8),
            let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else {
            throw TrustError("no authority key at \(url.path) (create one with `colony cert authority init`)")
        }
        return Authority(privateKey: key)
    }

    /// A certificate admitting `publicKey` as `name` until `expiresMs`.
    public func issue(publicKey: [UInt8], name: String, expiresMs: UInt64) -> Certificate {
        var c = Certificate(publicKey: publicKey, name: name, expiresMs: expiresMs)
        c.signature = Array((try? privateKey.signature(for: SignedClaim.certificate(c))) ?? Data())
        return c
    }

    /// A revocation of `id`, effective everywhere it reaches.
    public func revoke(_ id: NodeID, atMs: UInt64) -> Revocation {
        var r = Revocation(id: id, atMs: atMs)
        r.signature = Array((try? privateKey.signature(for: SignedClaim.revocation(r))) ?? Data())
        return r
    }

    /// An operator's signed order (the authority's key, or any key named in agents'
    /// `operator_keys`, made the same way).
    public func sign(_ order: OperatorOrder) -> Signature {
        Signature(
            publicKey: Array(privateKey.publicKey.rawRepresentation),
            bytes: Array((try? privateKey.signature(for: order.claim)) ?? Data()))
    }

    /// Parse a base64 authority public key (`--authority`).
    public static func decodePublicKey(_ base64: String) throws -> [UInt8] {
        guard let d = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), d.count == 32 else {
            throw TrustError(
                "the authority key must be 32 bytes of base64 (authority.pub from `colony cert authority init`)")
        }
        return Array(d)
    }
}

public struct TrustError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Certificates on disk and on the command line: JSON with base64 keys.
public struct CertificateFile: Codable, Sendable {
    public var publicKey: String
    public var name: String
    public var expiresMs: UInt64
    public var signature: String

    public init(_ c: Certificate) {
        publicKey = Data(c.publicKey).base64EncodedString()
        name = c.name
        expiresMs = c.expiresMs
        signature = Data(c.signature).base64EncodedString()
    }

    public var certificate: Certificate? {
        guard let k = Data(base64Encoded: publicKey), let s = Data(base64Encoded: signature) else { return nil }
        return Certificate(publicKey: Array(k), name: name, expiresMs: expiresMs, signature: Array(s))
    }

    public static func url(directory: String) -> URL {
        URL(fileURLWithPath: directory).appendingPathComponent("node.cert")
    }

    public static func load(directory: String) throws -> Certificate? {
        let url = url(directory: directory)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let f = try? JSONDecoder().decode(CertificateFile.self, from: Data(contentsOf: url)),
            let c = f.certificate
        else {
            throw TrustError("\(url.path) is not a certificate")
        }
        return c
    }

    /// Save atomically and durably (temporary file, fsync, rename, fsync of the directory).
    public func save(directory: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write(e.encode(self), to: Self.url(directory: directory).path, mode: DurableFile.shared)
    }
}
