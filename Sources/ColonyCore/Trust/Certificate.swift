/// A swarm authority's statement that a public key may be a member (docs/design.md §6,
/// admission): the node's key, its name and an expiry, signed by the authority's key.
/// With admission on (`TrustSettings.authorityKey`), alive claims must carry one.
public struct Certificate: Hashable, Sendable {
    public var publicKey: [UInt8]
    public var name: String
    /// Wall time (ms since the epoch) after which it no longer admits.
    public var expiresMs: UInt64
    /// The authority's signature of `SignedClaim.certificate(self)`.
    public var signature: [UInt8]

    public init(publicKey: [UInt8], name: String, expiresMs: UInt64, signature: [UInt8] = []) {
        self.publicKey = publicKey
        self.name = name
        self.expiresMs = expiresMs
        self.signature = signature
    }
}

/// The authority's revocation of a node id: spreads as a reserved state record, and a
/// revoked identity is refused everywhere from then on.
public struct Revocation: Hashable, Sendable {
    public var id: NodeID
    public var atMs: UInt64
    public var signature: [UInt8]

    public init(id: NodeID, atMs: UInt64, signature: [UInt8] = []) {
        self.id = id
        self.atMs = atMs
        self.signature = signature
    }

    /// Reserved keys of the replicated state hold revocations: `_colony/revoked/<id>`.
    public static let keyPrefix = "_colony/revoked/"
    public var key: String { Self.keyPrefix + id.description }

    package var encoded: [UInt8] {
        var out: [UInt8] = []
        out.nodeID(id)
        out.varint(atMs)
        out.bytesField(signature)
        return out
    }

    package init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        let id = try r.nodeID()
        let at = try r.varint()
        let sig = try r.bytesField()
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
        self.init(id: id, atMs: at, signature: sig)
    }
}

extension SignedClaim {
    public static func certificate(_ c: Certificate) -> [UInt8] {
        var out: [UInt8] = Array("colony/certificate/1".utf8)
        out.bytesField(c.publicKey)
        out.string(c.name)
        out.varint(c.expiresMs)
        return out
    }

    public static func revocation(_ r: Revocation) -> [UInt8] {
        var out: [UInt8] = Array("colony/revocation/1".utf8)
        out.nodeID(r.id)
        out.varint(r.atMs)
        return out
    }
}

extension ByteSink {
    mutating func certificate(_ c: Certificate?) {
        guard let c else { return write(0) }
        write(1)
        bytesField(c.publicKey)
        string(c.name)
        varint(c.expiresMs)
        bytesField(c.signature)
    }
}

extension WireReader {
    mutating func certificate() throws(WireError) -> Certificate? {
        guard try flag("certificate flag") else { return nil }
        let key = try bytesField()
        let name = try string()
        let expires = try varint()
        return Certificate(publicKey: key, name: name, expiresMs: expires, signature: try bytesField())
    }
}
