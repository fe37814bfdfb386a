/// The byte layout of packets (version 1). One generic encoder writes it, both into a byte
/// array and into a counter, so the sizes the core packs against (MTU) and the simulator
/// bills (load) are exactly the encoded sizes.
///
/// Layout: `version u8 | flags u8 | keyID u8 | from 16B | kind u8 | body | updates`.
/// Integers are LEB128 varints; strings and lists are varint-length-prefixed. `flags` and
/// `keyID` are zero until the trust issue adds sealing and signatures.
package protocol ByteSink {
    mutating func write(_ byte: UInt8)
    mutating func write<C: Collection>(contentsOf bytes: C) where C.Element == UInt8
}

/// Counts bytes instead of storing them.
package struct ByteCounter: ByteSink {
    public var count = 0
    public init() {}
    @inlinable public mutating func write(_ byte: UInt8) { count += 1 }
    @inlinable public mutating func write<C: Collection>(contentsOf bytes: C) where C.Element == UInt8 {
        count += bytes.count
    }
}

extension Array: ByteSink where Element == UInt8 {
    package mutating func write(_ byte: UInt8) { append(byte) }
    package mutating func write<C: Collection>(contentsOf bytes: C) where C.Element == UInt8 {
        append(contentsOf: bytes)
    }
}

package enum Wire {
    /// The first byte of a plain packet: the core protocol version (`WireNamespace`).
    public static let version: UInt8 = WireNamespace.currentProtocol.rawValue
    /// version, flags, key id.
    public static let envelopeBytes = 3

    public static func encode(_ packet: Packet) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        packet.encode(into: &out)
        return out
    }

    /// One update on its own (durable logs store records, events and members this way).
    public static func encode(_ update: Update) -> [UInt8] {
        var out: [UInt8] = []
        update.encode(into: &out)
        return out
    }

    /// A causal context as opaque bytes (what HTTP clients carry between a read and a write).
    public static func encode(context: CausalContext) -> [UInt8] {
        var out: [UInt8] = []
        out.context(context)
        return out
    }

    public static func size(of packet: Packet) -> Int {
        var c = ByteCounter()
        packet.encode(into: &c)
        return c.count
    }

    public static func size(of update: Update) -> Int {
        var c = ByteCounter()
        update.encode(into: &c)
        return c.count
    }

    /// Bytes of a packet with this message and no updates, plus the updates-count prefix.
    public static func headerSize(of message: Message, from: NodeID) -> Int {
        size(of: Packet(from: from, message: message, updates: []))
    }
}

extension ByteSink {
    @inlinable
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            write(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        write(UInt8(truncatingIfNeeded: v))
    }

    @inlinable
    mutating func fixed64(_ value: UInt64) {
        var v = value
        for _ in 0..<8 {
            write(UInt8(truncatingIfNeeded: v))
            v >>= 8
        }
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { buf in
            varint(UInt64(buf.count))
            write(contentsOf: buf)
        }
    }

    mutating func nodeID(_ id: NodeID) {
        fixed64(id.high)
        fixed64(id.low)
    }

    mutating func address(_ a: Address) {
        string(a.host)
        write(UInt8(truncatingIfNeeded: a.port >> 8))
        write(UInt8(truncatingIfNeeded: a.port))
    }

    mutating func bytesField(_ b: [UInt8]) {
        varint(UInt64(b.count))
        write(contentsOf: b)
    }

    mutating func dot(_ d: Dot) {
        nodeID(d.origin)
        varint(d.counter)
    }

    mutating func context(_ c: CausalContext) {
        varint(UInt64(c.base.entries.count))
        for e in c.base.entries {
            nodeID(e.origin)
            varint(e.counter)
        }
        varint(UInt64(c.cloud.count))
        for e in c.cloud {
            dot(e.dot)
            varint(e.prev)
        }
    }

    mutating func signature(_ s: Signature?) {
        guard let s else { return write(0) }
        write(1)
        write(contentsOf: s.publicKey)
        write(contentsOf: s.bytes)
    }

    mutating func tags(_ tags: [String: String]) {
        varint(UInt64(tags.count))
        // Sorted so the same tags always encode to the same bytes.
        for key in tags.keys.sorted() {
            string(key)
            string(tags[key]!)
        }
    }

    mutating func record(_ r: StateRecord) {
        recordBody(r)
        signature(r.signature)
    }

    mutating func recordBody(_ r: StateRecord) {
        string(r.key)
        if let v = r.value {
            write(1)
            bytesField(v)
        } else {
            write(0)
        }
        dot(r.dot)
        varint(r.prev)
        context(r.context)
        varint(r.timestamp.physicalMs)
        varint(UInt64(r.timestamp.logical))
    }

    mutating func userEvent(_ e: UserEvent) {
        userEventBody(e)
        signature(e.signature)
    }

    mutating func userEventBody(_ e: UserEvent) {
        dot(e.id)
        varint(e.lamport)
        string(e.name)
        bytesField(e.payload)
        write(e.coalesce ? 1 : 0)
    }

    mutating func query(_ q: Query) {
        queryBody(q)
        signature(q.signature)
    }

    mutating func queryBody(_ q: Query) {
        dot(q.id)
        varint(q.lamport)
        string(q.name)
        bytesField(q.payload)
        varint(UInt64(q.filter.names.count))
        for n in q.filter.names { string(n) }
        varint(UInt64(q.filter.tags.count))
        for key in q.filter.tags.keys.sorted() {
            string(key)
            string(q.filter.tags[key]!)
        }
        address(q.asker)
        varint(UInt64(q.timeoutMs))
    }

    mutating func digest(_ d: [DigestEntry]) {
        varint(UInt64(d.count))
        for e in d {
            nodeID(e.origin)
            varint(e.seen.base)
            varint(UInt64(e.seen.extras.count))
            for x in e.seen.extras { varint(x) }
        }
    }

    mutating func member(_ m: Member) {
        nodeID(m.id)
        string(m.name)
        address(m.address)
        varint(m.incarnation)
        write(m.status.rawValue)
        write(m.protocolVersion)
        tags(m.tags)
        signature(m.signature)
        certificate(m.certificate)
    }
}

extension Update {
    public func encode<S: ByteSink>(into out: inout S) {
        switch self {
        case .alive(let m):
            out.write(0)
            out.member(m)
        case .suspect(let id, let inc, let from):
            out.write(1)
            out.nodeID(id)
            out.varint(inc)
            out.nodeID(from)
        case .dead(let id, let inc, let from):
            out.write(2)
            out.nodeID(id)
            out.varint(inc)
            out.nodeID(from)
        case .left(let id, let inc, let sig):
            out.write(3)
            out.nodeID(id)
            out.varint(inc)
            out.signature(sig)
        case .record(let r):
            out.write(4)
            out.record(r)
        case .event(let e):
            out.write(5)
            out.userEvent(e)
        case .query(let q):
            out.write(6)
            out.query(q)
        case .queen(let c):
            out.write(7)
            out.queenClaimBody(c)
            out.signature(c.signature)
        }
    }
}

extension Sync {
    func encode<S: ByteSink>(into out: inout S) {
        switch self {
        case .join(let e, let members), .joinReply(let e, let members):
            if case .join = self { out.write(0) } else { out.write(1) }
            out.varint(UInt64(e))
            out.varint(UInt64(members.count))
            for m in members { out.member(m) }
        case .digest(let e, let root, let count):
            out.write(2)
            out.varint(UInt64(e))
            out.fixed64(root)
            out.varint(UInt64(count))
        case .inSync(let e):
            out.write(3)
            out.varint(UInt64(e))
        case .buckets(let e, let bits, let hashes):
            out.write(4)
            out.varint(UInt64(e))
            out.write(bits)
            out.varint(UInt64(hashes.count))
            for h in hashes { out.fixed64(h) }
        case .entries(let e, let bits, let buckets, let members, let isReply):
            out.write(5)
            out.varint(UInt64(e))
            out.write(bits)
            out.write(isReply ? 1 : 0)
            out.varint(UInt64(buckets.count))
            for b in buckets { out.varint(UInt64(b)) }
            out.varint(UInt64(members.count))
            for m in members { out.member(m) }
        case .stateRoot(let e, let root):
            out.write(6)
            out.varint(UInt64(e))
            out.fixed64(root)
        case .stateDigest(let e, let digest):
            out.write(7)
            out.varint(UInt64(e))
            out.digest(digest)
        case .stateRecords(let e, let records, let through, let complete, let digest):
            out.write(8)
            out.varint(UInt64(e))
            out.varint(UInt64(records.count))
            for r in records { out.record(r) }
            out.varint(UInt64(through.count))
            for t in through { out.dot(t) }
            out.write(complete ? 1 : 0)
            if let digest {
                out.write(1)
                out.digest(digest)
            } else {
                out.write(0)
            }
        case .recentEvents(let e, let events), .missedEvents(let e, let events):
            if case .recentEvents = self { out.write(9) } else { out.write(11) }
            out.varint(UInt64(e))
            out.varint(UInt64(events.count))
            for ev in events { out.userEvent(ev) }
        case .eventIDs(let e, let ids, let isReply):
            out.write(10)
            out.varint(UInt64(e))
            out.write(isReply ? 1 : 0)
            out.varint(UInt64(ids.count))
            for d in ids { out.dot(d) }
        }
    }
}

extension Packet {
    public func encode<S: ByteSink>(into out: inout S) {
        out.write(WireNamespace.currentProtocol.rawValue) // the version
        out.write(0) // flags
        out.write(0) // key id
        out.nodeID(from)
        out.write(UInt8(message.kind.rawValue))
        switch message {
        case .ping(let seq, let target):
            out.varint(UInt64(seq))
            out.nodeID(target)
        case .ack(let seq, let coordinate):
            out.varint(UInt64(seq))
            out.coordinate32(coordinate)
        case .nack(let seq):
            out.varint(UInt64(seq))
        case .pingReq(let seq, let target, let address):
            out.varint(UInt64(seq))
            out.nodeID(target)
            out.address(address)
        case .gossip:
            break
        case .sync(let s):
            s.encode(into: &out)
        case .queryResponse(let r):
            out.dot(r.query)
            out.nodeID(r.from)
            out.string(r.name)
            out.bytesField(r.payload)
        case .hive(let h):
            h.encode(into: &out)
        case .route(let scope, let routed):
            out.write(scope.rawValue)
            out.varint(UInt64(routed.count))
            for u in routed { u.encode(into: &out) }
        case .ihave(let ids), .graft(let ids):
            out.broadcastIDs(ids)
        }
        out.varint(UInt64(updates.count))
        for u in updates { u.encode(into: &out) }
    }
}
