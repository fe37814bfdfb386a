/// The values an honest node can send (issue 18: integers from the wire are validated before
/// any arithmetic). Every counter of the protocol — incarnations, terms, rounds, roster
/// versions, record and event counters, Lamport times, claim serials, boots — stays below
/// `maxCounter` (2^62: a restart or refutation a second for 146,000 years), so the core's
/// `+ 1`s cannot overflow; every coordinate component is a finite number of bounded size. The
/// inbound gate (`NodeCore.receive`) refuses a packet holding anything else, whole, before any
/// of it is applied, and counts it (`TrustStats.outOfRange`).
package enum WireBounds {
    /// The largest magnitude of a coordinate component or error an honest node reports
    /// (seconds; Vivaldi's are a few hundred milliseconds).
    package static let coordinateLimit = 1e6

    /// True if every value in `packet` is one an honest node could send.
    package static func admits(_ packet: Packet) -> Bool {
        admits(packet.message) && packet.updates.allSatisfy(admits)
    }

    static func fits(_ v: UInt64) -> Bool { v < maxCounter }
    static func fits(_ d: Dot) -> Bool { fits(d.counter) }
    static func fits(_ v: RosterVersion) -> Bool { fits(v.term) && fits(v.index) }

    static func admits(_ c: Coordinate) -> Bool {
        let finite = { (x: Double) in x.isFinite && abs(x) <= coordinateLimit }
        return c.vec.count == Coordinate.dimensions && c.vec.allSatisfy(finite) && finite(c.error)
            && finite(c.adjustment) && finite(c.height)
    }

    static func admits(_ m: Member) -> Bool { fits(m.incarnation) }

    static func admits(_ r: StateRecord) -> Bool {
        fits(r.dot) && fits(r.prev) && r.context.base.entries.allSatisfy { fits($0.counter) }
            && r.context.cloud.allSatisfy { fits($0.dot) && fits($0.prev) }
    }

    static func admits(_ e: UserEvent) -> Bool { fits(e.id) && fits(e.lamport) }
    static func admits(_ q: Query) -> Bool { fits(q.id) && fits(q.lamport) }
    static func admits(_ c: QueenClaim) -> Bool { fits(c.term) && fits(c.serial) && admits(c.coordinate) }
    static func admits(_ v: Voter) -> Bool { fits(v.boot) }
    static func admits(_ e: DigestEntry) -> Bool { fits(e.seen.base) && e.seen.extras.allSatisfy(fits) }

    static func admits(_ id: BroadcastID) -> Bool {
        switch id {
        case .record(let d), .event(let d): fits(d)
        case .claim(_, let term, let serial): fits(term) && fits(serial)
        }
    }

    static func admits(_ u: Update) -> Bool {
        switch u {
        case .alive(let m): admits(m)
        case .suspect(_, let inc, _), .dead(_, let inc, _), .left(_, let inc, _): fits(inc)
        case .record(let r): admits(r)
        case .event(let e): admits(e)
        case .query(let q): admits(q)
        case .queen(let c): admits(c)
        }
    }

    static func admits(_ m: Message) -> Bool {
        switch m {
        case .ping, .nack, .pingReq, .gossip: true
        case .ack(_, let c): c.map(admits) ?? true
        case .sync(let s): admits(s)
        case .queryResponse(let r): fits(r.query)
        case .hive(let h): admits(h)
        case .route(_, let updates): updates.allSatisfy(admits)
        case .ihave(let ids), .graft(let ids): ids.allSatisfy(admits)
        }
    }

    static func admits(_ s: Sync) -> Bool {
        switch s {
        case .join(_, let members), .joinReply(_, let members), .entries(_, _, _, let members, _):
            members.allSatisfy(admits)
        case .digest, .inSync, .buckets, .stateRoot: true
        case .stateDigest(_, let digest): digest.allSatisfy(admits)
        case .stateRecords(_, let records, let through, _, let digest):
            records.allSatisfy(admits) && through.allSatisfy(fits) && (digest ?? []).allSatisfy(admits)
        case .recentEvents(_, let events), .missedEvents(_, let events): events.allSatisfy(admits)
        case .eventIDs(_, let ids, _): ids.allSatisfy(fits)
        }
    }

    static func admits(_ h: HiveMessage) -> Bool {
        switch h {
        case .preVote(_, let term, let version, let boot), .requestVote(_, let term, let version, let boot, _):
            fits(term) && fits(version) && fits(boot)
        case .preVoteReply(_, let term, _), .enlisted(_, let term, _), .abdicate(_, let term, _),
            .depose(_, let term, _):
            fits(term)
        case .vote(_, let term, _, _, let boot, _): fits(term) && fits(boot)
        case .heartbeat(_, let term, let round, let version, let roster, _):
            fits(term) && fits(round) && fits(version) && (roster ?? []).allSatisfy(admits)
        case .heartbeatAck(_, let term, let round, let version, let boot, let coordinate):
            fits(term) && fits(round) && fits(version) && fits(boot) && (coordinate.map(admits) ?? true)
        case .enlist(_, let boot), .release(_, let boot): fits(boot)
        case .breed(_, let term, _, _, let voters, _): fits(term) && voters.allSatisfy(admits)
        case .accuse(_, let a): fits(a.atMs) && fits(a.penalty)
        case .lift: true
        case .pledge(_, let term, _, let boot, let atMs, _): fits(term) && fits(boot) && fits(atMs)
        }
    }
}
