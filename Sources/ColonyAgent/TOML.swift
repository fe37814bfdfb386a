import Foundation

/// A strict reader for the subset of TOML that `colony.toml` uses: comments, bare keys,
/// `key = "string" | integer | true | false | ["string", …]`, and `[table]` headers.
/// Anything else is a clear error with its line number — never silently ignored.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([TOMLValue])

    var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        case .array: "an array"
        }
    }
}

public struct TOMLError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

public struct TOMLDocument: Equatable, Sendable {
    /// Keys at the top level, and per `[table]`, with the line each was set on.
    public var root: [String: (value: TOMLValue, line: Int)] = [:]
    public var tables: [String: [String: (value: TOMLValue, line: Int)]] = [:]
    public var tableLines: [String: Int] = [:]

    public static func == (a: TOMLDocument, b: TOMLDocument) -> Bool {
        a.root.mapValues(\.value) == b.root.mapValues(\.value)
            && a.tables.mapValues { $0.mapValues(\.value) } == b.tables.mapValues { $0.mapValues(\.value) }
    }

    public init(parsing text: String) throws(TOMLError) {
        var table: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let n = index + 1
            var reader = Reader(Array(String(raw).unicodeScalars), line: n)
            reader.skipSpace()
            if reader.atEndOrComment { continue }
            if reader.peek == "[" {
                reader.advance()
                let name = try reader.key()
                reader.skipSpace()
                guard reader.peek == "]" else { throw TOMLError(line: n, message: "expected ']' after table name") }
                reader.advance()
                try reader.expectEnd()
                guard tables[name] == nil else { throw TOMLError(line: n, message: "table [\(name)] defined twice") }
                tables[name] = [:]
                tableLines[name] = n
                table = name
                continue
            }
            let key = try reader.key()
            reader.skipSpace()
            guard reader.peek == "=" else { throw TOMLError(line: n, message: "expected '=' after key '\(key)'") }
            reader.advance()
            reader.skipSpace()
            let value = try reader.value()
            try reader.expectEnd()
            if let table {
                guard tables[table]![key] == nil else {
                    throw TOMLError(line: n, message: "key '\(key)' set twice in [\(table)]")
                }
                tables[table]![key] = (value, n)
            } else {
                guard root[key] == nil else { throw TOMLError(line: n, message: "key '\(key)' set twice") }
                root[key] = (value, n)
            }
        }
    }

    struct Reader {
        let s: [Unicode.Scalar]
        var i = 0
        let line: Int

        init(_ s: [Unicode.Scalar], line: Int) {
            self.s = s
            self.line = line
        }

        var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }
        var atEndOrComment: Bool { peek == nil || peek == "#" || peek == "\r" }
        mutating func advance() { i += 1 }
        mutating func skipSpace() { while peek == " " || peek == "\t" { i += 1 } }

        func fail(_ m: String) -> TOMLError { TOMLError(line: line, message: m) }

        mutating func expectEnd() throws(TOMLError) {
            skipSpace()
            guard atEndOrComment else { throw fail("unexpected text after the value") }
        }

        mutating func key() throws(TOMLError) -> String {
            var out = ""
            while let c = peek, c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-" {
                out.unicodeScalars.append(c)
                i += 1
            }
            guard !out.isEmpty else { throw fail("expected a key") }
            return out
        }

        mutating func value() throws(TOMLError) -> TOMLValue {
            guard let c = peek else { throw fail("expected a value") }
            if c == "\"" { return .string(try string()) }
            if c == "[" {
                i += 1
                var items: [TOMLValue] = []
                while true {
                    skipSpace()
                    if peek == "]" {
                        i += 1
                        return .array(items)
                    }
                    items.append(try value())
                    skipSpace()
                    if peek == "," {
                        i += 1
                    } else if peek != "]" {
                        throw fail("expected ',' or ']' in array")
                    }
                }
            }
            var word = ""
            while let c = peek, c != " ", c != "\t", c != "#", c != ",", c != "]", c != "\r" {
                word.unicodeScalars.append(c)
                i += 1
            }
            if word == "true" { return .boolean(true) }
            if word == "false" { return .boolean(false) }
            if let n = Int(word.replacingOccurrences(of: "_", with: "")) { return .integer(n) }
            throw fail("'\(word)' is not a value (strings need double quotes)")
        }

        mutating func string() throws(TOMLError) -> String {
            i += 1
            var out = ""
            while let c = peek {
                i += 1
                if c == "\"" { return out }
                if c == "\\" {
                    guard let e = peek else { break }
                    i += 1
                    switch e {
                    case "n": out += "\n"
                    case "t": out += "\t"
                    case "\"": out += "\""
                    case "\\": out += "\\"
                    default: throw fail("unsupported escape '\\\(e)'")
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
            throw fail("unterminated string")
        }
    }
}
