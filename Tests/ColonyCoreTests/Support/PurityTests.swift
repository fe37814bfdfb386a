import Foundation
import Testing

/// The core must stay pure (docs/design.md §1): no clock, no unseeded randomness, no
/// concurrency, no I/O. This scans every ColonyCore source file.
@Suite(.tags(.purity)) struct PurityTests {
    static let forbidden: [(pattern: String, why: String)] = [
        (
            #"\bimport\s+(Foundation|FoundationEssentials|Glibc|Musl|Darwin|Dispatch|NIO\w*|Network)\b"#,
            "platform/IO module"
        ),
        (#"\bDate\s*\("#, "wall clock"),
        (
            #"\b(ContinuousClock|SuspendingClock|DispatchTime|DispatchWallTime|CFAbsoluteTime|clock_gettime|gettimeofday)\b"#,
            "clock"
        ),
        (#"\bSystemRandomNumberGenerator\b|\barc4random\w*|\bdrand48\b|\brandom\(\)"#, "unseeded randomness"),
        (#"\.random\((?![^)]*using:)"#, "randomness without an injected generator"),
        (
            #"\bTask\s*(\{|\.|<|\()|\bTaskGroup\b|\bwithTaskGroup\b|\basync\s+let\b|\bactor\s+\w|\bawait\b"#,
            "concurrency"
        ),
        (#"\b(u?sleep|nanosleep)\s*\("#, "sleep"),
        (#"\b(socket|bind|connect|sendto|recvfrom)\s*\("#, "sockets"),
        (#"\b(Thread|DispatchQueue|pthread_\w+)\b"#, "threads"),
    ]

    static var coreDirectory: URL {
        // Tests/ColonyCoreTests/Support/PurityTests.swift → the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/ColonyCore")
    }

    /// Code lines with `//` comments removed (string literals are rare in the core).
    static func violations(in source: String, file: String) -> [String] {
        var found: [String] = []
        for (n, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let r = line.range(of: "//") { line = String(line[..<r.lowerBound]) }
            for rule in forbidden where line.range(of: rule.pattern, options: .regularExpression) != nil {
                found.append("\(file):\(n + 1): \(rule.why): \(raw.trimmingCharacters(in: .whitespaces))")
            }
        }
        return found
    }

    @Test func coreSourcesAreFreeOfClocksRandomnessConcurrencyAndIO() throws {
        let fm = FileManager.default
        let root = Self.coreDirectory
        let files = try #require(fm.enumerator(atPath: root.path)).compactMap { $0 as? String }.filter {
            $0.hasSuffix(".swift")
        }
        #expect(files.count >= 10, "expected the core's sources under \(root.path)")
        var all: [String] = []
        for f in files {
            let text = try String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)
            all += Self.violations(in: text, file: f)
        }
        #expect(all.isEmpty, "ColonyCore must stay pure:\n\(all.joined(separator: "\n"))")
    }

    /// The checker itself must be able to fail.
    @Test(arguments: [
        "let t = Date()",
        "let c = ContinuousClock.now",
        "let x = Int.random(in: 0..<3)",
        "Task { await work() }",
        "import Foundation",
        "usleep(100)",
        "let fd = socket(AF_INET, SOCK_DGRAM, 0)",
        "DispatchQueue.main.async {}",
    ])
    func checkerCatchesForbiddenCode(line: String) {
        #expect(!Self.violations(in: line, file: "x.swift").isEmpty)
    }

    @Test func checkerAllowsSeededRandomnessAndComments() {
        #expect(
            Self.violations(in: "let x = Int.random(in: 0..<3, using: &rng) // not Date()", file: "x.swift").isEmpty)
    }
}
