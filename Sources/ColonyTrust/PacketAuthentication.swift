import ColonyCore
import Crypto
import Foundation

/// Every packet and stream frame authenticated to its sender's identity (docs/design.md §6),
/// inside the keyring's envelope:
///
///     marker u8 (`WireNamespace.authenticated`) | sender's Ed25519 key 32B | tag 16B | packet
///     marker u8 (`WireNamespace.signed`)        | sender's Ed25519 key 32B | signature 64B | packet
///
/// - **Between members: a MAC.** Each pair of nodes agrees a key from their Ed25519 identities
///   (X25519 on the keys' Montgomery forms, `MontgomeryKey`, then HKDF-SHA256 bound to both
///   ids); a packet carries HMAC-SHA256 under it, cut to 16 bytes. It costs about as much as
///   hashing the packet, so gossip rates are not hurt; the agreement (one X25519) is done once
///   per peer and cached.
/// - **To a stranger: a signature.** A packet to an address whose key we do not know yet (a
///   join through a seed) is signed with Ed25519. Its answer comes back MACed: the join
///   carried our key.
///
/// A receiver learns the sender from the key in the packet: the node id is the key's hash, so a
/// packet that verifies came from the holder of that id's private key, whoever's address it came
/// from. The core then refuses a packet whose claimed sender is not that id. What does not
/// verify is dropped and counted here and blames nobody (its sender is unknown).
///
/// Work a stranger can make us do is budgeted: agreeing a key with, or verifying a signature
/// from, an identity we have no key cached for spends a token from a bucket (`Budget`); when it
/// is empty such packets are dropped unverified, so a flood of fresh identities costs a bounded
/// amount of CPU. The cache of pair keys is bounded too.
package struct PacketAuthentication {
    package static let keyBytes = 32
    package static let tagBytes = 16
    package static let macOverhead = 1 + keyBytes + tagBytes
    package static let signatureOverhead = 1 + keyBytes + Signature.signatureBytes
    /// The most a packet grows by: the core's datagram budget leaves room for it.
    package static let maxOverhead = signatureOverhead

    package enum Refusal: Error, Equatable, CustomStringConvertible {
        /// Not an authenticated packet (a plain or unknown namespace).
        case notAuthenticated
        case truncated(Int)
        /// The key is not a valid Ed25519 key.
        case malformedKey
        /// The MAC does not verify: altered, or not from the key's holder, or not meant for us.
        case badTag
        case badSignature
        /// A stranger's packet found the verification budget empty.
        case overBudget

        package var description: String {
            switch self {
            case .notAuthenticated: "packet is not authenticated to a sender"
            case .truncated(let n): "authenticated packet of \(n) bytes is shorter than its header"
            case .malformedKey: "sender key is malformed"
            case .badTag: "packet MAC does not verify"
            case .badSignature: "packet signature does not verify"
            case .overBudget: "verification budget for unknown senders spent"
            }
        }

        /// A short label for counters and metrics.
        package var reason: String {
            switch self {
            case .notAuthenticated: "unauthenticated"
            case .truncated: "truncated"
            case .malformedKey: "malformed_key"
            case .badTag: "bad_mac"
            case .badSignature: "bad_signature"
            case .overBudget: "over_budget"
            }
        }
    }

    /// A packet that verified: its bytes and who sent it.
    package struct Verified: Equatable {
        package var packet: ArraySlice<UInt8>
        package var sender: NodeID
        package var senderKey: [UInt8]
    }

    /// A token bucket for verifications on behalf of identities with no cached key.
    package struct Budget: Sendable {
        package var perSecond: Double
        package var burst: Double
        var tokens: Double
        var lastMs: Int64?

        package init(perSecond: Double = 200, burst: Double = 400) {
            self.perSecond = perSecond
            self.burst = burst
            self.tokens = burst
        }

        mutating func spend(nowMs: Int64) -> Bool {
            if let last = lastMs, nowMs > last {
                tokens = min(burst, tokens + Double(nowMs - last) * perSecond / 1000)
            }
            lastMs = max(lastMs ?? nowMs, nowMs)
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }

    package struct Stats: Sendable, Equatable {
        /// Pair keys agreed (X25519 runs).
        package var agreements = 0
        package var macsSent = 0
        package var signaturesSent = 0
        package var refused: [String: Int] = [:]
    }

    struct Pair {
        let id: NodeID
        /// HMAC keyed with the pair key, before any message: copied per packet, so the key's
        /// pads are hashed once per peer rather than once per packet.
        let keyed: HMAC<SHA256>

        func tag(_ packet: ArraySlice<UInt8>) -> [UInt8] {
            var mac = keyed
            mac.update(data: packet)
            return Array(mac.finalize().prefix(PacketAuthentication.tagBytes))
        }
    }

    let identity: Curve25519.Signing.PrivateKey
    let agreement: Curve25519.KeyAgreement.PrivateKey
    package let publicKey: [UInt8]
    package let id: NodeID
    let cacheLimit: Int
    /// Pair keys by the peer's Ed25519 key; `nil` remembers a key that agrees nothing.
    var pairs: [[UInt8]: Pair?] = [:]
    /// Peers' keys by id, learned from packets that verified: whom we can MAC to.
    var keysByID: [NodeID: [UInt8]] = [:]
    package var budget: Budget
    package private(set) var stats = Stats()

    package init(identity: Curve25519.Signing.PrivateKey, cacheLimit: Int = 4096, budget: Budget = Budget()) {
        self.identity = identity
        self.agreement = MontgomeryKey.privateKey(of: identity)
        self.publicKey = Array(identity.publicKey.rawRepresentation)
        self.id = Ed25519Authenticator.nodeID(for: publicKey)
        self.cacheLimit = max(1, cacheLimit)
        self.budget = budget
    }

    /// Whether `bytes` is an authenticated packet (by its first byte).
    package static func isAuthenticated<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        let namespace = WireNamespace(first: bytes)
        return namespace == .authenticated || namespace == .signed
    }

    // MARK: Sending

    /// `packet` authenticated for `recipient`: MACed if we know its key (from `recipientKey`,
    /// or from a packet it sent us), otherwise signed.
    package mutating func wrap(_ packet: [UInt8], to recipient: NodeID?, recipientKey: [UInt8]? = nil) -> [UInt8] {
        let key = recipientKey ?? recipient.flatMap { keysByID[$0] }
        // A key that is not the named recipient's is not used for it.
        if let key, let pair = pair(for: key), recipient.map({ pair.id == $0 }) ?? true {
            stats.macsSent += 1
            var out: [UInt8] = [WireNamespace.authenticated.rawValue]
            out.reserveCapacity(Self.macOverhead + packet.count)
            out.append(contentsOf: publicKey)
            out.append(contentsOf: pair.tag(packet[...]))
            out.append(contentsOf: packet)
            return out
        }
        stats.signaturesSent += 1
        var out: [UInt8] = [WireNamespace.signed.rawValue]
        out.reserveCapacity(Self.signatureOverhead + packet.count)
        out.append(contentsOf: publicKey)
        // Signing with a valid key cannot fail.
        out.append(contentsOf: (try? identity.signature(for: packet)) ?? Data())
        out.append(contentsOf: packet)
        return out
    }

    // MARK: Receiving

    /// The packet inside `bytes` and its sender, if it verifies.
    package mutating func unwrap(_ bytes: [UInt8], nowMs: Int64) -> Result<Verified, Refusal> {
        let result = verify(bytes, nowMs: nowMs)
        if case .failure(let refusal) = result { stats.refused[refusal.reason, default: 0] += 1 }
        return result
    }

    private mutating func verify(_ bytes: [UInt8], nowMs: Int64) -> Result<Verified, Refusal> {
        guard let namespace = WireNamespace(first: bytes), namespace == .authenticated || namespace == .signed else {
            return .failure(.notAuthenticated)
        }
        let header = namespace == .authenticated ? Self.macOverhead : Self.signatureOverhead
        guard bytes.count >= header else { return .failure(.truncated(bytes.count)) }
        let key = Array(bytes[1..<(1 + Self.keyBytes)])
        let proof = bytes[(1 + Self.keyBytes)..<header]
        let packet = bytes[header...]
        let cached = pairs[key]
        // Work for a key we hold nothing for, and every signature (a join's, rare), is
        // budgeted: a flood of fresh identities or signed packets costs bounded CPU.
        if cached == nil || namespace == .signed, !budget.spend(nowMs: nowMs) { return .failure(.overBudget) }
        let sender: NodeID
        switch namespace {
        case .authenticated:
            guard let pair = cached ?? pair(for: key) else { return .failure(.malformedKey) }
            guard Self.equal(pair.tag(packet), proof) else { return .failure(.badTag) }
            sender = pair.id
        default:
            guard let edwards = try? Curve25519.Signing.PublicKey(rawRepresentation: key) else {
                return .failure(.malformedKey)
            }
            guard edwards.isValidSignature(proof, for: packet) else { return .failure(.badSignature) }
            sender = Ed25519Authenticator.nodeID(for: key)
        }
        remember(key, of: sender)
        return .success(Verified(packet: packet, sender: sender, senderKey: key))
    }

    // MARK: Keys

    /// Remember `key` as `id`'s, to MAC what we send it (bounded like the pair cache).
    package mutating func remember(_ key: [UInt8], of id: NodeID) {
        guard keysByID[id] != key else { return }
        if keysByID.count >= cacheLimit { keysByID.remove(at: keysByID.startIndex) }
        keysByID[id] = key
    }

    /// The pair key with the holder of `key` (agreed once, then cached).
    mutating func pair(for key: [UInt8]) -> Pair? {
        if let cached = pairs[key] { return cached }
        let pair = Self.agree(agreement, ownID: id, peerKey: key)
        if pair != nil { stats.agreements += 1 }
        if pairs.count >= cacheLimit { pairs.remove(at: pairs.startIndex) }
        pairs[key] = .some(pair)
        return pair
    }

    static func agree(_ agreement: Curve25519.KeyAgreement.PrivateKey, ownID: NodeID, peerKey: [UInt8]) -> Pair? {
        guard let u = MontgomeryKey.publicKey(ofEdwards: peerKey),
            let peer = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: u),
            let shared = try? agreement.sharedSecretFromKeyAgreement(with: peer)
        else { return nil }
        let peerID = Ed25519Authenticator.nodeID(for: peerKey)
        let ids = [ownID, peerID].sorted()
        let key = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: Array("colony/pair/1".utf8), sharedInfo: ids[0].bytes + ids[1].bytes,
            outputByteCount: 32)
        return Pair(id: peerID, keyed: HMAC<SHA256>(key: key))
    }

    /// Constant-time comparison.
    static func equal(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}
