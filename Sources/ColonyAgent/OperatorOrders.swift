import ColonyCore
import Foundation
import Hummingbird

/// Operators' orders as the HTTP API carries them (docs/design.md §6): `order=` query
/// parameters, each the operator's public key and signature (32 + 64 bytes) in base64url.
/// `colony hive depose|lift`, `colony keys` and `colony force-leave` sign them with
/// `--operator DIR`.
public enum OrderParameter {
    /// The parameter's text for `signature`.
    public static func encode(_ signature: Signature) -> String {
        Data(signature.publicKey + signature.bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The signature in a parameter's text; nil if it is not 96 bytes of base64(url).
    public static func decode<S: StringProtocol>(_ text: S) -> Signature? {
        var b64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard b64.utf8.count <= 200 else { return nil }
        while b64.utf8.count % 4 != 0 { b64 += "=" }
        guard let d = Data(base64Encoded: b64), d.count == Signature.publicKeyBytes + Signature.signatureBytes else {
            return nil
        }
        let bytes = Array(d)
        return Signature(
            publicKey: Array(bytes[0..<Signature.publicKeyBytes]), bytes: Array(bytes[Signature.publicKeyBytes...]))
    }

    /// The one `order` parameter of `request`, if any.
    static func order(_ request: Request) throws -> Signature? {
        guard let text = request.uri.queryParameters.get("order") else { return nil }
        guard let s = decode(text) else {
            throw HTTPError(
                .badRequest, message: "order must be an operator's key and signature, 96 bytes of base64url")
        }
        return s
    }

    /// The `order=ISSUER:SIGNATURE` parameters of a lift, by issuer.
    static func liftOrders(_ request: Request) throws -> [NodeID: Signature] {
        var out: [NodeID: Signature] = [:]
        for text in request.uri.queryParameters.getAll("order") {
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let issuer = NodeID(hex: String(parts[0])), let s = decode(parts[1]) else {
                throw HTTPError(
                    .badRequest,
                    message:
                        "order must be ISSUER:SIGNATURE (the eviction's issuer id, the operator's key and signature)")
            }
            out[issuer] = s
        }
        return out
    }

    /// A keyring change's order: `order` and `orderAt` (ms since the epoch), or nil.
    static func keyringOrder(_ request: Request) throws -> KeyringOrder? { try timedOrder(request, of: "keyring") }

    /// A timed order (`what`: a keyring change, a force-leave): `order` and `orderAt` (ms
    /// since the epoch), or nil.
    static func timedOrder(_ request: Request, of what: String) throws -> TimedOrder? {
        guard let s = try order(request) else { return nil }
        guard let text = request.uri.queryParameters.get("orderAt"), let at = UInt64(text) else {
            throw HTTPError(.badRequest, message: "a \(what) order needs orderAt, its time in ms since the epoch")
        }
        return TimedOrder(signature: s, issuedAtMs: at)
    }
}
