import ColonyCore
import ColonyStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Follows the event log for one reader: entries from an offset out of SQLite, then live
/// ones as they are committed, with no gap and no repeat between the two.
final class LogFollower: @unchecked Sendable {
    let continuation: AsyncThrowingStream<LogEntry, any Error>.Continuation
    private let lock = NIOLock()
    private var caughtUp = false
    private var last: Int64
    private var buffer: [LogEntry] = []

    init(from offset: Int64, continuation: AsyncThrowingStream<LogEntry, any Error>.Continuation) {
        self.last = offset - 1
        self.continuation = continuation
    }

    /// Live entries (from the log's commit queue).
    func live(_ entries: [LogEntry]) {
        lock.withLock {
            if !caughtUp {
                buffer += entries
                return
            }
            for e in entries where e.offset > last {
                continuation.yield(e)
                last = e.offset
            }
        }
    }

    /// Read stored entries until none are left, then switch to live ones.
    func catchUp(_ log: EventLog) {
        do {
            while true {
                let from = lock.withLock { last + 1 }
                let page = try log.read(from: from, limit: 512)
                lock.withLock {
                    for e in page where e.offset > last {
                        continuation.yield(e)
                        last = e.offset
                    }
                }
                if page.count < 512 { break }
            }
            lock.withLock {
                for e in buffer where e.offset > last {
                    continuation.yield(e)
                    last = e.offset
                }
                buffer = []
                caughtUp = true
            }
        } catch {
            continuation.finish(throwing: error)
        }
    }
}

extension Driver {
    func wallNow() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: Commands

    func put(_ key: String, value: [UInt8]?, context: CausalContext?) async throws -> StateRecord {
        try await durableWrite { core, wallMs, now in
            core.put(key, value: value, context: context, wallMs: wallMs, now: now)
        }
    }

    func revoke(_ r: Revocation) async throws -> StateRecord {
        try await durableWrite { core, wallMs, now in core.revoke(r, wallMs: wallMs, now: now) }
    }

    /// Broadcast a user event, answered once durable in the local log (it is sent from then).
    func event(_ name: String, payload: [UInt8], coalesce: Bool) async throws -> UserEvent {
        try await durably(
            { d, core in core.event(name, payload: payload, coalesce: coalesce, now: d.now()) },
            wait: { d, e, p in d.eventWaiters.append((e, p)) })
    }

    /// Send a query through the core (a user's, or one of Colony's own) and stream its answers.
    func query(
        _ body: @escaping @Sendable (inout NodeCore, Instant) -> (Result<Query, StateError>, [Effect])
    ) async throws -> (Query, AsyncStream<QueryResponse>) {
        try await query(body, id: { $0 })
    }

    /// As `query(_:)`, for a core command that sends a query as part of what it returns (`id`).
    func query<T: Sendable, E: Error>(
        _ body: @escaping @Sendable (inout NodeCore, Instant) -> (Result<T, E>, [Effect]),
        id: @escaping @Sendable (T) -> Query
    ) async throws -> (T, AsyncStream<QueryResponse>) {
        let (stream, continuation) = AsyncStream.makeStream(of: QueryResponse.self)
        let sent: T = try await onLoop { d in
            guard var core = d.core else { throw ColonyError.notStarted }
            let (result, effects) = body(&core, d.now())
            d.core = core
            let sent = try result.get()
            d.queryStreams[id(sent).id.counter] = continuation
            d.handle(effects)
            return sent
        }
        return (sent, stream)
    }

    func respond(to q: Query, payload: [UInt8]) {
        guard var core else { return }
        let effects = core.respond(to: q, payload: payload, now: now())
        self.core = core
        handle(effects)
    }

    /// Events the state machinery reports to the application.
    func publishState(_ event: Event) {
        switch event {
        case .queryReceived(let q) where ColonyQuery(q) == .keyring:
            answerKeyringQuery(q)
        case .queryReceived(let q):
            guard let handler = queryHandler.withLockedValue({ $0 }) else { return }
            Task { [self] in
                guard let payload = await handler(q) else { return }
                loop.execute { self.respond(to: q, payload: payload) }
            }
        case .queryResponse(let r) where keyringChanges.pending[r.query.counter] != nil:
            keyringChange(answer: r)
        case .queryResponse(let r):
            queryStreams[r.query.counter]?.yield(r)
        case .queryFinished(let id) where keyringChanges.pending[id.counter] != nil:
            keyringChange(finished: id.counter)
        case .queryFinished(let id):
            queryStreams.removeValue(forKey: id.counter)?.finish()
        default:
            break
        }
    }

    func follow(from offset: Int64) -> AsyncThrowingStream<LogEntry, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: LogEntry.self, throwing: (any Error).self, bufferingPolicy: .unbounded)
        guard let log = eventLogBox.withLockedValue({ $0 }) else {
            continuation.finish(throwing: ColonyError.notStarted)
            return stream
        }
        let follower = LogFollower(from: max(1, offset), continuation: continuation)
        let key = nextSubscriber.withLockedValue { v in
            v += 1
            return v
        }
        logFollowers.withLockedValue { $0[key] = follower }
        continuation.onTermination = { [logFollowers] _ in
            logFollowers.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
        DispatchQueue.global().async { follower.catchUp(log) }
        return stream
    }
}
