import ColonySimulator
import Foundation
import Testing

/// A parsed JSON value: the report's fields are tested by value, not by spelling.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields[key]
    }

    var isNumber: Bool {
        if case .number = self { return true }
        return false
    }
}

extension SimulationResult {
    /// The JSON report, parsed; it must be one object on one line (scripts read it by line).
    func parsedJSON() throws -> JSONValue {
        let text = json
        #expect(text.hasPrefix("{") && !text.contains("\n"))
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
