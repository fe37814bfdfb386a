import ColonyCore
import Foundation
import Testing

@testable import ColonyAgent

/// The force-leave answer's JSON: the summary's fields and `complete` side by side, as the
/// README documents them, and back again for the CLI.
@Suite struct ForceLeaveJSONTests {
    @Test func theAnswerCarriesEveryFieldAndCompleteAndReadsBack() throws {
        let f = ForceLeave(id: NodeID(high: 1, low: 2), incarnation: 3, prune: true, issuedAtMs: 4)
        var s = ForceLeaveSummary(f, name: "n1", nodes: 2)
        s.responses = 2
        s.outcomes = ["left": 1, "pruned": 1]
        let data = try JSONEncoder().encode(ForceLeaveJSON(s))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys)
                == ["id", "name", "incarnation", "prune", "nodes", "responses", "outcomes", "errors", "complete"])
        #expect(object["complete"] as? Bool == true)
        let back = try JSONDecoder().decode(ForceLeaveJSON.self, from: data)
        #expect(back.summary == s && back.complete && back.name == "n1")
    }
}
