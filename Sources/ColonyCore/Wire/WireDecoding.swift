/// Decoding packets: total by construction. Any byte string yields a `Packet` or a
/// `WireError` — no traps, no unbounded allocation (every count is checked against the bytes
/// that remain before anything is reserved), no trailing garbage accepted.
package enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case unsupportedVersion(UInt8)
    /// Sealed or signed packets arrive with the trust issue; until then flags must be zero.
    case unsupportedFlags(UInt8)
    case truncated(offset: Int)
    case varintOverflow(offset: Int)
    case valueOutOfRange(field: String, offset: Int)
    case unknownMessageKind(UInt8)
    case unknownUpdateKind(UInt8)
    case unknownSyncKind(UInt8)
    case unknownStatus(UInt8)
    case invalidUTF8(offset: Int)
    case duplicateTag(offset: Int)
    case trailingBytes(count: Int)
    /// A structure not in the one order honest encoders write (e.g. a causal context's entries
    /// unsorted or repeated): decoding stays linear in the input by refusing it.
    case notCanonical(field: String, offset: Int)

    public var description: String {
        switch self {
        case .empty: "empty packet"
        case .unsupportedVersion(let v): "unsupported wire version \(v) (this node speaks \(Wire.version))"
        case .unsupportedFlags(let f): "unsupported packet flags 0x\(String(f, radix: 16))"
        case .truncated(let o): "packet truncated at byte \(o)"
        case .varintOverflow(let o): "varint overflows 64 bits at byte \(o)"
        case .valueOutOfRange(let f, let o): "\(f) out of range at byte \(o)"
        case .unknownMessageKind(let k): "unknown message kind \(k)"
        case .unknownUpdateKind(let k): "unknown update kind \(k)"
        case .unknownSyncKind(let k): "unknown sync kind \(k)"
        case .unknownStatus(let s): "unknown member status \(s)"
        case .invalidUTF8(let o): "invalid UTF-8 at byte \(o)"
        case .duplicateTag(let o): "duplicate tag key at byte \(o)"
        case .trailingBytes(let n): "\(n) unexpected bytes after the packet"
        case .notCanonical(let f, let o): "\(f) not in canonical order at byte \(o)"
        }
    }

    /// A short, bounded name for metrics labels.
    public var reason: String {
        switch self {
        case .empty: "empty"
        case .unsupportedVersion: "version"
        case .unsupportedFlags: "flags"
        case .truncated: "truncated"
        case .varintOverflow, .valueOutOfRange: "range"
        case .unknownMessageKind, .unknownUpdateKind, .unknownSyncKind, .unknownStatus: "kind"
        case .invalidUTF8: "utf8"
        case .duplicateTag: "tags"
        case .trailingBytes: "trailing"
        case .notCanonical: "order"
        }
    }
}

extension Wire {
    /// Decode one packet from exactly these bytes.
    public static func decode<C: Collection>(_ bytes: C) throws(WireError) -> Packet where C.Element == UInt8 {
        var reader = WireReader(Array(bytes))
        let packet = try reader.packet()
        if reader.remaining > 0 { throw .trailingBytes(count: reader.remaining) }
        return packet
    }

    /// Only the version byte, so a receiver can name a peer that speaks another version.
    public static func decodeUpdate<C: Collection>(_ bytes: C) throws(WireError) -> Update where C.Element == UInt8 {
        var r = WireReader(Array(bytes))
        let u = try r.update()
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
        return u
    }

    public static func decodeContext<C: Collection>(_ bytes: C) throws(WireError) -> CausalContext
    where C.Element == UInt8 {
        var r = WireReader(Array(bytes))
        let c = try r.context()
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
        return c
    }

    public static func peekVersion<C: Collection>(_ bytes: C) -> UInt8? where C.Element == UInt8 { bytes.first }
}

struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func u8() throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw .varintOverflow(offset: start) }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .varintOverflow(offset: start) }
        }
    }

    mutating func u32(_ field: String) throws(WireError) -> UInt32 {
        let at = offset
        let v = try varint()
        guard let x = UInt32(exactly: v) else { throw .valueOutOfRange(field: field, offset: at) }
        return x
    }

    /// A count of items each at least `minBytes` long: bounded by the bytes that remain.
    mutating func count(_ field: String, minBytes: Int) throws(WireError) -> Int {
        let at = offset
        let v = try varint()
        guard v <= UInt64(remaining / max(1, minBytes)) else { throw .valueOutOfRange(field: field, offset: at) }
        return Int(v)
    }

    mutating func fixed64() throws(WireError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(offset: bytes.count) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    mutating func string() throws(WireError) -> String {
        let length = try count("string length", minBytes: 1)
        let start = offset
        let slice = bytes[start..<(start + length)]
        offset += length
        guard let s = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(offset: start) }
        return s
    }

    mutating func nodeID() throws(WireError) -> NodeID {
        let high = try fixed64()
        let low = try fixed64()
        return NodeID(high: high, low: low)
    }

    mutating func address() throws(WireError) -> Address {
        let host = try string()
        let hi = try u8()
        let lo = try u8()
        return Address(host: host, port: UInt16(hi) << 8 | UInt16(lo))
    }

    mutating func status() throws(WireError) -> MemberStatus {
        let raw = try u8()
        guard let s = MemberStatus(rawValue: raw) else { throw .unknownStatus(raw) }
        return s
    }

    mutating func member() throws(WireError) -> Member {
        let id = try nodeID()
        let name = try string()
        let address = try address()
        let incarnation = try varint()
        let status = try status()
        let version = try u8()
        let tagCount = try count("tag count", minBytes: 2)
        var tags: [String: String] = [:]
        for _ in 0..<tagCount {
            let at = offset
            let key = try string()
            let value = try string()
            if tags.updateValue(value, forKey: key) != nil { throw .duplicateTag(offset: at) }
        }
        var m = Member(
            id: id, name: name, address: address, tags: tags, incarnation: incarnation, status: status,
            protocolVersion: version)
        m.signature = try signature()
        m.certificate = try certificate()
        return m
    }

    mutating func signature() throws(WireError) -> Signature? {
        guard try flag("signature flag") else { return nil }
        let n = Signature.publicKeyBytes + Signature.signatureBytes
        guard remaining >= n else { throw .truncated(offset: bytes.count) }
        defer { offset += n }
        return Signature(
            publicKey: Array(bytes[offset..<(offset + Signature.publicKeyBytes)]),
            bytes: Array(bytes[(offset + Signature.publicKeyBytes)..<(offset + n)]))
    }

    mutating func bytesField() throws(WireError) -> [UInt8] {
        let length = try count("bytes length", minBytes: 1)
        defer { offset += length }
        return Array(bytes[offset..<(offset + length)])
    }

    mutating func dot() throws(WireError) -> Dot {
        let origin = try nodeID()
        return Dot(origin: origin, counter: try varint())
    }

    mutating func flag(_ field: String) throws(WireError) -> Bool {
        let at = offset
        let b = try u8()
        guard b <= 1 else { throw .valueOutOfRange(field: field, offset: at) }
        return b == 1
    }

    /// A causal context in the one form `CausalContext` keeps (its encoder writes nothing
    /// else): base entries by strictly increasing origin, cloud entries by strictly increasing
    /// dot, each above its origin's base with a predecessor above it too (else it would have
    /// folded). Anything else is refused, so decoding is linear in the input: a hostile frame
    /// of millions of entries cannot make it quadratic.
    mutating func context() throws(WireError) -> CausalContext {
        let n = try count("context size", minBytes: 17)
        var base: [(origin: NodeID, counter: UInt64)] = []
        base.reserveCapacity(n)
        for _ in 0..<n {
            let at = offset
            let origin = try nodeID()
            let counter = try varint()
            if let last = base.last, !(last.origin < origin) { throw .notCanonical(field: "context base", offset: at) }
            base.append((origin, counter))
        }
        let vector = VersionVector(canonical: base)
        let m = try count("cloud size", minBytes: 18)
        var cloud: [CloudDot] = []
        cloud.reserveCapacity(m)
        for _ in 0..<m {
            let at = offset
            let d = try dot()
            let c = CloudDot(dot: d, prev: try varint())
            let floor = vector[d.origin]
            guard cloud.last.map({ $0 < c }) ?? true, d.counter > floor, c.prev > floor else {
                throw .notCanonical(field: "context cloud", offset: at)
            }
            cloud.append(c)
        }
        return CausalContext(canonicalBase: vector, cloud: cloud)
    }

    mutating func record() throws(WireError) -> StateRecord {
        let key = try string()
        let value: [UInt8]? = try flag("value flag") ? try bytesField() : nil
        let d = try dot()
        let prev = try varint()
        let ctx = try context()
        let physical = try varint()
        let logical = try u32("hlc logical")
        var r = StateRecord(
            key: key, value: value, dot: d, prev: prev, context: ctx,
            timestamp: HLCTimestamp(physicalMs: physical, logical: logical))
        r.signature = try signature()
        return r
    }

    mutating func records() throws(WireError) -> [StateRecord] {
        let n = try count("record count", minBytes: 24)
        var out: [StateRecord] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try record()) }
        return out
    }

    mutating func userEvent() throws(WireError) -> UserEvent {
        let id = try dot()
        let lamport = try varint()
        let name = try string()
        let payload = try bytesField()
        var e = UserEvent(id: id, lamport: lamport, name: name, payload: payload, coalesce: try flag("coalesce"))
        e.signature = try signature()
        return e
    }

    mutating func userEvents() throws(WireError) -> [UserEvent] {
        let n = try count("event count", minBytes: 21)
        var events: [UserEvent] = []
        events.reserveCapacity(n)
        for _ in 0..<n { events.append(try userEvent()) }
        return events
    }

    mutating func query() throws(WireError) -> Query {
        let id = try dot()
        let lamport = try varint()
        let name = try string()
        let payload = try bytesField()
        let nameCount = try count("filter names", minBytes: 1)
        var names: [String] = []
        for _ in 0..<nameCount { names.append(try string()) }
        let tagCount = try count("filter tags", minBytes: 2)
        var tags: [String: String] = [:]
        for _ in 0..<tagCount {
            let at = offset
            let key = try string()
            if tags.updateValue(try string(), forKey: key) != nil { throw .duplicateTag(offset: at) }
        }
        let asker = try address()
        let timeout = try u32("query timeout")
        var q = Query(
            id: id, lamport: lamport, name: name, payload: payload, filter: QueryFilter(names: names, tags: tags),
            asker: asker, timeoutMs: timeout)
        q.signature = try signature()
        return q
    }

    mutating func digest() throws(WireError) -> [DigestEntry] {
        let n = try count("digest size", minBytes: 18)
        var out: [DigestEntry] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let origin = try nodeID()
            let base = try varint()
            let m = try count("digest extras", minBytes: 1)
            var extras: [UInt64] = []
            extras.reserveCapacity(m)
            for _ in 0..<m { extras.append(try varint()) }
            // Canonical: sorted, distinct, above base + 1 (a peer's word is not trusted to be).
            extras = Array(Set(extras.filter { $0 > base &+ 1 && base < UInt64.max - 1 })).sorted()
            out.append(DigestEntry(origin: origin, seen: OriginSeen(base: base, extras: extras)))
        }
        return out
    }

    mutating func members() throws(WireError) -> [Member] {
        // A member is at least 16 (id) + 1 + 3 + 1 + 1 + 1 + 1 bytes.
        let n = try count("member count", minBytes: 24)
        var out: [Member] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try member()) }
        return out
    }

    mutating func update() throws(WireError) -> Update {
        let kind = try u8()
        switch kind {
        case 0:
            return .alive(try member())
        case 1:
            let id = try nodeID()
            let inc = try varint()
            return .suspect(id: id, incarnation: inc, from: try nodeID())
        case 2:
            let id = try nodeID()
            let inc = try varint()
            return .dead(id: id, incarnation: inc, from: try nodeID())
        case 3:
            let id = try nodeID()
            let inc = try varint()
            return .left(id: id, incarnation: inc, signature: try signature())
        case 4:
            return .record(try record())
        case 5:
            return .event(try userEvent())
        case 6:
            return .query(try query())
        case 7:
            return .queen(try queenClaim())
        default:
            throw .unknownUpdateKind(kind)
        }
    }

    mutating func sync() throws(WireError) -> Sync {
        let kind = try u8()
        let exchange = try u32("exchange")
        switch kind {
        case 0: return .join(exchange: exchange, members: try members())
        case 1: return .joinReply(exchange: exchange, members: try members())
        case 2:
            let root = try fixed64()
            return .digest(exchange: exchange, root: root, count: try u32("count"))
        case 3: return .inSync(exchange: exchange)
        case 4:
            let at = offset
            let bits = try u8()
            guard bits <= MemberTable.bucketBits else { throw .valueOutOfRange(field: "bucket bits", offset: at) }
            let n = try count("bucket count", minBytes: 8)
            guard n == 1 << Int(bits) else { throw .valueOutOfRange(field: "bucket count", offset: at) }
            var hashes: [UInt64] = []
            hashes.reserveCapacity(n)
            for _ in 0..<n { hashes.append(try fixed64()) }
            return .buckets(exchange: exchange, bits: bits, hashes: hashes)
        case 5:
            let at = offset
            let bits = try u8()
            guard bits <= MemberTable.bucketBits else { throw .valueOutOfRange(field: "bucket bits", offset: at) }
            let replyByte = try u8()
            guard replyByte <= 1 else { throw .valueOutOfRange(field: "isReply", offset: offset - 1) }
            let n = try count("bucket list", minBytes: 1)
            var buckets: [UInt16] = []
            buckets.reserveCapacity(n)
            for _ in 0..<n {
                let bAt = offset
                let b = try varint()
                guard b < UInt64(1) << UInt64(bits) else { throw .valueOutOfRange(field: "bucket", offset: bAt) }
                buckets.append(UInt16(b))
            }
            return .entries(
                exchange: exchange, bits: bits, buckets: buckets, members: try members(), isReply: replyByte == 1)
        case 6:
            return .stateRoot(exchange: exchange, root: try fixed64())
        case 7:
            return .stateDigest(exchange: exchange, digest: try digest())
        case 8:
            let records = try records()
            let n = try count("through count", minBytes: 17)
            var through: [Dot] = []
            for _ in 0..<n { through.append(try dot()) }
            let complete = try flag("complete")
            let digest: [DigestEntry]? = try flag("digest flag") ? try digest() : nil
            return .stateRecords(
                exchange: exchange, records: records, through: through, complete: complete, digest: digest)
        case 9:
            return .recentEvents(exchange: exchange, events: try userEvents())
        case 10:
            let isReply = try flag("reply flag")
            let n = try count("event id count", minBytes: 17)
            var ids: [Dot] = []
            ids.reserveCapacity(n)
            for _ in 0..<n { ids.append(try dot()) }
            return .eventIDs(exchange: exchange, ids: ids, isReply: isReply)
        case 11:
            return .missedEvents(exchange: exchange, events: try userEvents())
        default:
            throw .unknownSyncKind(kind)
        }
    }

    mutating func packet() throws(WireError) -> Packet {
        guard !bytes.isEmpty else { throw .empty }
        let version = try u8()
        guard version == WireNamespace.currentProtocol.rawValue else { throw .unsupportedVersion(version) }
        let flags = try u8()
        guard flags == 0 else { throw .unsupportedFlags(flags) }
        _ = try u8() // key id: unused until sealing exists
        let from = try nodeID()
        let kind = try u8()
        let message: Message
        switch kind {
        case 0:
            let seq = try u32("seq")
            message = .ping(seq: seq, target: try nodeID())
        case 1:
            let seq = try u32("seq")
            message = .ack(seq: seq, coordinate: try optionalCoordinate32())
        case 2: message = .nack(seq: try u32("seq"))
        case 3:
            let seq = try u32("seq")
            let target = try nodeID()
            message = .pingReq(seq: seq, target: target, targetAddress: try address())
        case 4: message = .gossip
        case 5: message = .sync(try sync())
        case 6:
            let q = try dot()
            let from = try nodeID()
            let name = try string()
            message = .queryResponse(QueryResponse(query: q, from: from, name: name, payload: try bytesField()))
        case 7: message = .hive(try hiveMessage())
        case 8:
            let at = offset
            guard let scope = RouteScope(rawValue: try u8()) else {
                throw .valueOutOfRange(field: "route scope", offset: at)
            }
            let n = try count("routed count", minBytes: 18)
            var routed: [Update] = []
            routed.reserveCapacity(n)
            for _ in 0..<n { routed.append(try update()) }
            message = .route(scope: scope, updates: routed)
        case 9: message = .ihave(try broadcastIDs())
        case 10: message = .graft(try broadcastIDs())
        default: throw .unknownMessageKind(kind)
        }
        let n = try count("update count", minBytes: 18)
        var updates: [Update] = []
        updates.reserveCapacity(n)
        for _ in 0..<n { updates.append(try update()) }
        return Packet(from: from, message: message, updates: updates)
    }
}
