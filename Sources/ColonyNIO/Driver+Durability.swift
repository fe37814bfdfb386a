import ColonyCore
import ColonyStore
import ColonyTrust
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// This node's own writes and events the batch being logged holds, by counter: what the
/// core may send (or must undo) once the batch's commit succeeds (or fails).
struct DurableMarks: Sendable, Equatable {
    var records: UInt64 = 0
    var events: UInt64 = 0
}

/// Durability, kept off the event loop: every commit (the event log's appends, the
/// incarnation, the peers, the coordinate) runs on the log's serial queue and the keyring file
/// is saved on `fileQueue`, both in submission order; answers come back to the loop. A commit
/// that fails undoes what it held of this node's own (`NodeCore.recordsFailed`,
/// `eventsFailed`) and fails the caller's call with `ColonyError.notDurable`.
extension Driver {
    /// Entries waiting for the disk beyond which this node takes no new write or event
    /// (refused at once, nothing applied), and drops the log entries of what it hears (a
    /// failed commit: its own writes among them are undone). The disk is not keeping up.
    static let maxLogBacklog = 65_536

    // MARK: The event log

    /// What each effect adds to the event log: only `.persist` effects, each as the entries
    /// `LogRecord.entries(for:atMs:)` makes of it (the simulator keeps the same values).
    /// Our own writes and events also raise the marks the batch makes durable.
    func logEffect(_ effect: Effect) {
        guard case .persist(let persisted) = effect else { return }
        switch persisted {
        case .record(let c) where c.record.dot.origin == core?.me.id:
            batchOwn.records = max(batchOwn.records, c.record.dot.counter)
        case .event(let e) where e.id.origin == core?.me.id:
            batchOwn.events = max(batchOwn.events, e.id.counter)
        default:
            break
        }
        logBatch += LogRecord.entries(for: persisted, atMs: wallNow())
    }

    /// After a batch of effects: append what it logged (off the loop); once committed, let the
    /// core send our own writes and events and answer the calls waiting for them.
    func flushLog() {
        guard !logBatch.isEmpty, let log else { return }
        let batch = logBatch
        let marks = batchOwn
        logBatch = []
        batchOwn = DurableMarks()
        let backlog = log.backlog
        if backlog >= Self.maxLogBacklog {
            // Answered in its turn, after the batches before it.
            log.perform { [self] in
                loop.execute { self.logged(.failure(LogBacklogFull(entries: backlog)), marks: marks) }
            }
            return
        }
        log.append(batch) { [self] result in
            if case .success(let entries) = result {
                for f in logFollowers.withLockedValue({ Array($0.values) }) { f.live(entries) }
            }
            loop.execute { self.logged(result, marks: marks) }
        }
    }

    func logged(_ result: Result<[LogEntry], any Error>, marks: DurableMarks) {
        switch result {
        case .success:
            counters.logAppends += 1
            if var core, marks != DurableMarks() {
                var effects: [Effect] = []
                if marks.records > 0 { effects += core.recordsDurable(through: marks.records, now: now()) }
                if marks.events > 0 { effects += core.eventsDurable(through: marks.events, now: now()) }
                self.core = core
                handle(effects)
            }
            while let w = putWaiters.first, w.record.dot.counter <= marks.records {
                putWaiters.removeFirst()
                w.promise.succeed(w.record)
            }
            while let w = eventWaiters.first, w.event.id.counter <= marks.events {
                eventWaiters.removeFirst()
                w.promise.succeed(w.event)
            }
        case .failure(let error):
            counters.logFailures += 1
            logger.error(
                "could not append to the event log: this node's writes in the batch are undone",
                metadata: [
                    "colony.error": "\(error)", "colony.records": "\(marks.records)",
                    "colony.events": "\(marks.events)",
                ])
            if var core, marks != DurableMarks() {
                var effects: [Effect] = []
                if marks.records > 0 { effects += core.recordsFailed(through: marks.records, now: now()) }
                if marks.events > 0 { effects += core.eventsFailed(through: marks.events, now: now()) }
                self.core = core
                handle(effects)
            }
            let failure = ColonyError.notDurable("\(error)")
            while let w = putWaiters.first, w.record.dot.counter <= marks.records {
                putWaiters.removeFirst()
                w.promise.fail(failure)
            }
            while let w = eventWaiters.first, w.event.id.counter <= marks.events {
                eventWaiters.removeFirst()
                w.promise.fail(failure)
            }
        }
    }

    /// A new write or event is refused before it touches the core while the log is too far
    /// behind.
    func refuseIfBacklogged() throws {
        guard let log else { return }
        let backlog = log.backlog
        if backlog >= Self.maxLogBacklog { throw ColonyError.notDurable("\(LogBacklogFull(entries: backlog))") }
    }

    /// A write through the core, answered once durable in the local log.
    func durableWrite(
        _ body: @escaping @Sendable (inout NodeCore, UInt64, Instant) -> (Result<StateRecord, StateError>, [Effect])
    ) async throws -> StateRecord {
        try await durably(
            { d, core in body(&core, UInt64(d.wallNow()), d.now()) }, wait: { d, r, p in d.putWaiters.append((r, p)) })
    }

    /// A command through the core (a write or an event), answered once what it made is durable
    /// in the local log: `wait` files the promise with the waiters for that kind.
    func durably<T: Sendable>(
        _ body: @escaping @Sendable (Driver, inout NodeCore) -> (Result<T, StateError>, [Effect]),
        wait: @escaping @Sendable (Driver, T, EventLoopPromise<T>) -> Void
    ) async throws -> T {
        let durable: EventLoopFuture<T> = try await onLoop { d in
            guard var core = d.core else { throw ColonyError.notStarted }
            try d.refuseIfBacklogged()
            let (result, effects) = body(d, &core)
            d.core = core
            let p = d.loop.makePromise(of: T.self)
            if case .success(let made) = result { wait(d, made, p) }
            d.handle(effects)
            do {
                _ = try result.get()
            } catch {
                p.fail(error)
                throw error
            }
            return p.futureResult
        }
        return try await durable.get()
    }

    // MARK: The incarnation

    /// The effects of `handle` to act on now. Those after an incarnation that is not durable
    /// yet wait until it is (`.persist` is durable before later effects are acted on): the
    /// refutation it backs is not sent first. While one waits, later effects queue behind it.
    func effectsToActOn(_ effects: [Effect]) -> ArraySlice<Effect>? {
        if heldEffects != nil {
            heldEffects! += effects
            return nil
        }
        guard
            let i = effects.firstIndex(where: {
                if case .persist(.incarnation(let inc)) = $0 { mustPersist(inc) } else { false }
            })
        else { return effects[...] }
        heldEffects = Array(effects[(i + 1)...])
        return effects[...i]
    }

    func mustPersist(_ incarnation: UInt64) -> Bool { incarnation > durableIncarnation && store != nil && log != nil }

    /// Make `inc` durable off the loop, then act on the effects held behind it.
    func persist(incarnation inc: UInt64) {
        guard mustPersist(inc), let store, let log else { return }
        log.perform { [self] in
            let result = Result { try store.record(incarnation: inc) }
            loop.execute { self.incarnationCommitted(inc, result) }
        }
    }

    func incarnationCommitted(_ inc: UInt64, _ result: Result<Void, any Error>) {
        switch result {
        case .success: durableIncarnation = max(durableIncarnation, inc)
        case .failure(let error):
            logger.error("could not persist incarnation", metadata: ["colony.error": "\(error)"])
        }
        guard let held = heldEffects else { return }
        heldEffects = nil
        handle(held)
    }

    // MARK: Start

    /// The log's records and recent events, read at start (rows that cannot be read are
    /// quarantined and reported, not fatal).
    func loadLog(_ log: EventLog) throws -> RestoredLog {
        let restored = try log.loadState(recentEvents: configuration.settings.eventBufferSize)
        if !restored.quarantined.isEmpty {
            logger.warning(
                "event log rows that could not be read were moved to event_log_quarantine; start-up continues",
                metadata: [
                    "colony.count": "\(restored.quarantined.count)",
                    "colony.offsets": "\(restored.quarantined.prefix(20).map(String.init).joined(separator: ","))",
                ])
        }
        return restored
    }

    /// Rebuild the core's replicated state from the log, the hybrid clock bounded by now.
    func restore(_ restored: RestoredLog, into core: inout NodeCore) {
        let ahead = core.restore(records: restored.records, events: restored.events, wallMs: UInt64(max(0, wallNow())))
        if ahead > 0 {
            logger.warning(
                "records in the log are dated beyond the clock drift bound: kept, not moving the hybrid clock",
                metadata: ["colony.count": "\(ahead)"])
        }
    }

    // MARK: Files

    /// Save the keyring file off the loop (in order with the other saves); the future
    /// completes once it is durable.
    func saveKeyring(_ ring: Keyring?) -> EventLoopFuture<Void> {
        guard let dir = configuration.dataDirectory, let ring else { return loop.makeSucceededVoidFuture() }
        let p = loop.makePromise(of: Void.self)
        fileQueue.async { p.completeWith(Result { try ring.save(directory: dir) }) }
        return p.futureResult
    }
}

/// The event log is too far behind to take more.
struct LogBacklogFull: Error, CustomStringConvertible {
    var entries: Int
    var description: String {
        "the event log has \(entries) entries waiting for the disk (at most \(Driver.maxLogBacklog))"
    }
}
