import ColonyCore

/// The simulator's `Authenticator`: a keyed hash only the true origin can compute. The
/// "public key" names the node id; the verifier recomputes with the origin's secret, which
/// only the simulator knows. A forger signs with its own secret, so its signatures for
/// anyone else fail — unforgeability, modelled, at a fraction of Ed25519's cost.
package struct SimAuthenticator: Authenticator {
    public let id: NodeID
    let swarmSecret: UInt64

    public init(id: NodeID, swarmSecret: UInt64) {
        self.id = id
        self.swarmSecret = swarmSecret
    }

    public var publicKey: [UInt8] { Self.publicKey(for: id) }

    public static func publicKey(for id: NodeID) -> [UInt8] { id.bytes + [UInt8](repeating: 0, count: 16) }

    public func nodeID(for publicKey: [UInt8]) -> NodeID {
        // The unused half must be zero, so one id has exactly one key.
        guard publicKey.count == 32, publicKey[16...].allSatisfy({ $0 == 0 }), let id = NodeID(bytes: publicKey) else {
            return NodeID(high: 0, low: 0)
        }
        return id
    }

    public func sign(_ message: [UInt8]) -> [UInt8] { Self.mac(secret: secret(of: id), message) }

    public func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        signature == Self.mac(secret: secret(of: nodeID(for: publicKey)), message)
    }

    func secret(of id: NodeID) -> UInt64 { SplitMix64.mix(swarmSecret ^ id.stableHash) }

    static func mac(secret: UInt64, _ message: [UInt8]) -> [UInt8] {
        var h = secret ^ 0xCBF2_9CE4_8422_2325
        for b in message { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        var out: [UInt8] = []
        out.reserveCapacity(64)
        var x = SplitMix64.mix(h ^ UInt64(message.count))
        for _ in 0..<8 {
            x = SplitMix64.mix(x &+ secret)
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: x >> UInt64(s))) }
        }
        return out
    }
}
