import ArgumentParser
import ColonyAgent
import Foundation
import NIOHTTP1

/// `colony kv get|put|delete|list`, `colony event`, `colony query`, `colony log` — clients of
/// the local agent's HTTP API (issue #4).
struct KVCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv", abstract: "Read and write the swarm's replicated key-value state.",
        subcommands: [KVGet.self, KVPut.self, KVDelete.self, KVList.self])
}

func kvPath(_ key: String) -> String {
    "/v1/kv/"
        + (key.addingPercentEncoding(
            withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "%;"))) ?? key)
}

/// A value or payload argument: '-' reads standard input.
func argumentBytes(_ argument: String) -> [UInt8] {
    argument == "-" ? Array(FileHandle.standardInput.readDataToEndOfFile()) : Array(argument.utf8)
}

/// The header carrying a context from an earlier read, if one was given.
func contextHeader(_ context: String?) -> [(String, String)] {
    context.map { [("X-Colony-Context", $0)] } ?? []
}

func queryEscape(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&+=#")))
        ?? s
}

struct KVGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print a key's value (last writer wins); --siblings shows concurrent values.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "The key.") var key: String
    @Flag(help: "Print every sibling and the context to write back.") var siblings = false
    @Flag(help: "Print the API's JSON.") var json = false

    func run() async throws {
        if json { return try await http.call(.GET, kvPath(key)) }
        let k = try await http.fetch(kvPath(key), as: KeyJSON.self)
        if siblings {
            for s in k.siblings {
                let shown = s.deleted ? "(deleted)" : (s.text ?? "base64:" + (s.value ?? ""))
                print("\(s.origin.prefix(8)):\(s.counter)\t\(s.timestampMs).\(s.logical)\t\(shown)")
            }
            print("context\t\(k.context)")
            return
        }
        if let text = k.text {
            print(text)
        } else if let v = k.value, let data = Data(base64Encoded: v) {
            FileHandle.standardOutput.write(data)
        } else {
            FileHandle.standardError.write(Data("(deleted)\n".utf8))
        }
        if k.siblings.count > 1 {
            FileHandle.standardError.write(
                Data(
                    "note: \(k.siblings.count) concurrent values; `colony kv get --siblings \(key)` shows them all\n"
                        .utf8))
        }
    }
}

struct KVPut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put", abstract: "Write a key. Returns once the write is durable on the agent.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value; '-' reads standard input.") var value: String
    @Option(help: "A context from `kv get --siblings`: resolve exactly those siblings.") var context: String?

    func run() async throws {
        try await http.call(.PUT, kvPath(key), body: argumentBytes(value), raw: true, headers: contextHeader(context))
    }
}

struct KVDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a key (a tombstone, collected after the grace period).")
    @OptionGroup var http: HTTPOption
    @Argument(help: "The key.") var key: String
    @Option(help: "A context from `kv get --siblings`.") var context: String?

    func run() async throws {
        try await http.call(.DELETE, kvPath(key), headers: contextHeader(context))
    }
}

struct KVList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List live keys under a prefix.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "Key prefix.") var prefix: String = ""
    @Flag(help: "Print the API's JSON.") var json = false

    func run() async throws {
        let path = "/v1/kv?prefix=\(queryEscape(prefix))"
        if json { return try await http.call(.GET, path) }
        for k in try await http.fetch(path, as: [KeyJSON].self) {
            let shown = k.text ?? k.value.map { "base64:" + $0 } ?? "(deleted)"
            print("\(k.key)\t\(shown)" + (k.siblings.count > 1 ? "\t(\(k.siblings.count) siblings)" : ""))
        }
    }
}

struct EventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event", abstract: "Broadcast a user event to every member.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "Event name.") var name: String
    @Argument(help: "Payload ('-' reads standard input).") var payload: String = ""
    @Flag(help: "Only the newest event of this name matters (older ones are dropped).") var coalesce = false

    func run() async throws {
        try await http.call(
            .POST, "/v1/event/\(queryEscape(name))" + (coalesce ? "?coalesce=true" : ""), body: argumentBytes(payload),
            raw: true)
    }
}

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Ask matching members; print answers as they arrive until the timeout.")
    @OptionGroup var http: HTTPOption
    @Argument(help: "Query name (the agent answers `ping` by itself).") var name: String
    @Argument(help: "Payload.") var payload: String = ""
    @Option(help: "Only members with this tag, key=value (repeatable).") var tag: [String] = []
    @Option(help: "Only members with this name (repeatable).") var node: [String] = []
    @Option(help: "How long to wait for answers, e.g. 500ms, 2s.") var timeout: String = "5s"
    @Flag(help: "Print one JSON object per answer.") var json = false

    func run() async throws {
        var query = ["timeout=\(queryEscape(timeout))"]
        for t in tag {
            guard t.contains("=") else { throw ValidationError("--tag must be key=value") }
            query.append("tag=\(queryEscape(t))")
        }
        for n in node { query.append("node=\(queryEscape(n))") }
        let path = "/v1/query/\(queryEscape(name))?" + query.joined(separator: "&")
        let pending = NIOLockedBody()
        let raw = json
        let code = try await http.client().stream(path, method: .POST, body: Array(payload.utf8)) { chunk in
            pending.append(chunk)
            for line in pending.takeLines() {
                if raw {
                    writeLine(line)
                    continue
                }
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    continue
                }
                if obj["done"] != nil {
                    FileHandle.standardError.write(Data("\(obj["answers"] ?? 0) answers\n".utf8))
                } else if obj["error"] == nil {
                    writeLine("\(obj["from"] ?? "?"): \(obj["text"] as? String ?? "base64:\(obj["payload"] ?? "")")")
                }
            }
        }
        if code != 200 { throw failFromAPI(code, pending.bytes) }
    }
}

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Follow the agent's durable event log (one JSON object per line).")
    @OptionGroup var http: HTTPOption
    @Option(help: "Start at this offset (1 = the beginning).") var from: Int64 = 1

    func run() async throws {
        guard from >= 0 else { throw ValidationError("--from must be ≥ 0") }
        let pending = NIOLockedBody()
        let code = try await http.client().stream("/v1/log?from=\(from)") { chunk in
            pending.append(chunk)
            for line in pending.takeLines() where line.hasPrefix("data: ") { writeLine(String(line.dropFirst(6))) }
        }
        if code != 200 { throw failFromAPI(code, pending.bytes) }
    }
}

extension NIOLockedBody {
    /// Complete lines received so far (the rest stays buffered).
    func takeLines() -> [String] {
        let all = bytes
        guard let lastNewline = all.lastIndex(of: 0x0A) else { return [] }
        let complete = all[...lastNewline]
        replace(with: Array(all[(lastNewline + 1)...]))
        return String(decoding: complete, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(
            String.init)
    }
}

/// Write a line unbuffered, so followers piped into other tools see it at once.
func writeLine(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}
