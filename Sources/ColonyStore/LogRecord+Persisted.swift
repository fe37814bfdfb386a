import ColonyCore

extension LogRecord {
    /// The event-log entries for what the core asked to make durable: every driver appends
    /// exactly these (from `.persist` effects only), so a node's log never depends on the
    /// events it emits. An incarnation is kept in the store, not the log: no entry.
    package static func entries(for persisted: Persisted, atMs: Int64) -> [LogRecord] {
        switch persisted {
        case .incarnation:
            return []
        case .record(let c):
            let superseded = c.superseded.map { "\"\($0.origin):\($0.counter)\"" }.joined(separator: ",")
            let info =
                "{\"origin\":\"\(c.record.dot.origin)\",\"counter\":\(c.record.dot.counter),\"local\":\(c.local),"
                + "\"siblings\":\(c.siblings),\"superseded\":[\(superseded)]}"
            return [
                LogRecord(
                    kind: .key, subject: c.record.key, data: Wire.encode(.record(c.record)), info: info, atMs: atMs)
            ]
        case .covered(let r):
            return [LogRecord(kind: .covered, subject: r.key, data: Wire.encode(.record(r)), atMs: atMs)]
        case .event(let e):
            return [
                LogRecord(
                    kind: .event, subject: e.name, data: Wire.encode(.event(e)),
                    info: "{\"origin\":\"\(e.id.origin)\",\"lamport\":\(e.lamport)}", atMs: atMs)
            ]
        case .member(let m, let previous):
            let info = "{\"status\":\"\(m.status)\",\"previous\":\(previous.map { "\"\($0.status)\"" } ?? "null")}"
            return [
                LogRecord(
                    kind: .member, subject: m.id.description, data: Wire.encode(.alive(m)), info: info, atMs: atMs)
            ]
        case .collected(let keys):
            return keys.map { LogRecord(kind: .collected, subject: $0, data: [], atMs: atMs) }
        }
    }
}
