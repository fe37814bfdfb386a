import ColonyCore
import ColonyStore
import ColonyTrust
import Crypto
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Carrying out the core's effects: send, emit (log, metrics, subscribers), persist, wake.
extension Driver {
    // MARK: Effects

    func handle(_ effects: [Effect]) {
        guard let effects = effectsToActOn(effects) else { return }
        defer { flushLog() }
        for effect in effects {
            logEffect(effect)
            switch effect {
            case .send(let packet, let peer, let via):
                let bytes = sealIfNeeded(authenticated(Wire.encode(packet), to: peer))
                switch via {
                case .datagram: sendDatagram(bytes, to: peer.address)
                case .stream: sendFrame(bytes, to: peer.address)
                }
            case .emit(let event):
                publish(event)
            case .persist(.incarnation(let inc)):
                persist(incarnation: inc)
            case .persist(.record), .persist(.covered), .persist(.event), .persist(.member), .persist(.collected):
                break // logged by logEffect, committed by flushLog
            case .wake(let at):
                schedule(at)
            }
        }
    }

    func schedule(_ at: Instant) {
        if let current = wakeAt, current <= at, wakeTask != nil { return }
        wakeTask?.cancel()
        wakeAt = at
        let deadline = NIODeadline.uptimeNanoseconds(origin.uptimeNanoseconds + UInt64(max(0, at.nanoseconds)))
        wakeTask = loop.scheduleTask(deadline: deadline) { [self] in fireTick() }
    }

    func publish(_ event: Event) {
        switch event {
        case .memberChanged(let m, let previous):
            peersDirty = true
            logger.info(
                "member \(m.status)",
                metadata: [
                    "colony.peer": "\(m.name)", "colony.peer.id": "\(m.id)", "colony.incarnation": "\(m.incarnation)",
                    "colony.previous": "\(previous.map { $0.status.description } ?? "unknown")",
                ])
            if let table = core?.table {
                for s in MemberStatus.allCases { metricMembers[s]?.record(table.count(s)) }
            }
        case .joined(let n):
            if let started = joinStartedAt {
                metricJoinDuration.recordNanoseconds(now().nanoseconds(since: started))
                joinStartedAt = nil
            }
            logger.info("joined the swarm", metadata: ["colony.members": "\(n)"])
            for w in joinWaiters { w.succeed() }
            joinWaiters = []
        case .joinFailed(let attempt, let retry):
            logger.warning(
                "no seed answered; retrying", metadata: ["colony.attempt": "\(attempt)", "colony.retryIn": "\(retry)"])
            for w in joinWaiters { w.fail(ColonyError.noSeedAnswered(attempt: attempt)) }
            requestKeyringIfLockedOut()
            joinWaiters = []
        case .leaveCompleted:
            logger.info("left the swarm")
            for w in leaveWaiters { w.succeed() }
            leaveWaiters = []
        case .memberReclaimed, .keyChanged, .keysCollected, .userEvent:
            break
        case .queryReceived, .queryResponse, .queryFinished:
            publishState(event)
        case .peerGraylisted, .peerForgiven, .revoked, .evictionProposed, .evicted, .evictionEnded:
            logTrust(event)
        case .hive(let change):
            logHive(change)
        }
        for c in subscribers.withLockedValue({ Array($0.values) }) { c.yield(event) }
    }

    /// A change in this node's place in the hive, logged.
    func logHive(_ change: HiveChange) {
        switch change {
        case .founded(let cell, let term):
            logger.info("founded a cell: queen", metadata: ["colony.cell": "\(cell)", "colony.term": "\(term)"])
        case .elected(let cell, let term):
            logger.info("elected queen", metadata: ["colony.cell": "\(cell)", "colony.term": "\(term)"])
        case .steppedDown(let cell, let term, let reason):
            logger.info(
                "stepped down as queen",
                metadata: ["colony.cell": "\(cell)", "colony.term": "\(term)", "colony.reason": "\(reason)"])
        case .accepted(let cell, let term, let queen):
            logger.debug(
                "following a queen",
                metadata: ["colony.cell": "\(cell)", "colony.term": "\(term)", "colony.peer.id": "\(queen)"])
        case .leftCell(let cell, let reason):
            logger.debug("left a cell", metadata: ["colony.cell": "\(cell)", "colony.reason": "\(reason)"])
        case .splitting(let cell, let newCell, let designate, let voters):
            logger.info(
                "cell breeding: handing workers to a new cell",
                metadata: [
                    "colony.cell": "\(cell)", "colony.new_cell": "\(newCell)", "colony.peer.id": "\(designate)",
                    "colony.voters": "\(voters.count)",
                ])
        }
    }

    /// Trust news (graylisting, revocation, eviction), logged.
    func logTrust(_ event: Event) {
        switch event {
        case .peerGraylisted(let id, let score):
            logger.warning(
                "peer graylisted: its gossip is ignored",
                metadata: ["colony.peer.id": "\(id)", "colony.score": "\(Int(score))"])
        case .peerForgiven(let id, let score):
            logger.info(
                "peer forgiven: its score recovered",
                metadata: ["colony.peer.id": "\(id)", "colony.score": "\(Int(score))"])
        case .revoked(let id):
            if id == core?.me.id {
                logger.error("this node's identity was revoked by the swarm authority: every member refuses it now")
            } else {
                logger.warning("identity revoked by the swarm authority", metadata: ["colony.peer.id": "\(id)"])
            }
        case .evictionProposed(let id, let score):
            logger.warning(
                "peer misbehaves: eviction proposed",
                metadata: ["colony.peer.id": "\(id)", "colony.score": "\(Int(score))"])
        case .evicted(let e):
            let meta: Logger.Metadata = [
                "colony.peer.id": "\(e.id)", "colony.issuer": "\(e.issuer)", "colony.reason": "\(e.reason)",
                "colony.expires_ms": "\(e.expiresMs)",
            ]
            if e.id == core?.me.id {
                logger.error(
                    "this node was evicted by a queen: every member refuses it until the eviction expires or is lifted",
                    metadata: meta)
            } else {
                logger.warning("member evicted", metadata: meta)
            }
        case .evictionEnded(let id, let lifted):
            logger.info(lifted ? "eviction lifted" : "eviction expired", metadata: ["colony.peer.id": "\(id)"])
        default:
            preconditionFailure("logTrust called for \(event)")
        }
    }

    /// Save the coordinate and, if they changed, the live peers: read here, committed off the
    /// loop on the log's queue.
    func savePeers() {
        guard let store, let core, let log else { return }
        let coordinate = core.vivaldi.updates > 0 ? core.vivaldi.coordinate : nil
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        let peers: [KnownPeer]? =
            peersDirty
            ? Array(
                core.members.filter { $0.id != core.me.id && $0.status.isLive }
                    .map { KnownPeer(id: $0.id, name: $0.name, address: $0.address, lastSeenMs: wall) }.prefix(256))
            : nil
        peersDirty = false
        guard coordinate != nil || peers != nil else { return }
        log.perform { [logger] in
            if let coordinate { try? store.save(coordinate: coordinate) }
            guard let peers else { return }
            do {
                try store.saveKnownPeers(peers)
            } catch {
                logger.warning("could not save known peers", metadata: ["colony.error": "\(error)"])
            }
        }
    }
}
