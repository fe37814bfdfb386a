import ColonyAgent
import ColonyCore
import ColonyNIO
import Testing

@Suite(.tags(.configuration)) struct ConfigurationTests {
    @Test func tomlFileIsReadAndFlagsOverrideIt() throws {
        let text = """
            # colony.toml
            name = "alpha"
            bind = "127.0.0.1:8000"
            join = ["10.0.0.1:7946", "seed.example"]
            profile = "wan"
            eviction_ttl = 600
            flap_threshold = 3
            flap_hold = 45

            [tags]
            role = "db"
            zone = "eu-1"
            """
        let file = try AgentConfiguration.overrides(fromTOML: text)
        var flags = AgentConfiguration.Overrides()
        flags.profile = "local"
        flags.tags = ["zone": "us-2"]
        let c = try AgentConfiguration.resolve(file: file, flags: flags)
        #expect(c.name == "alpha")
        #expect(c.bind == "127.0.0.1:8000")
        #expect(c.join == ["10.0.0.1:7946", "seed.example"])
        #expect(c.profile == "local", "flags override the file")
        #expect(c.tags == ["role": "db", "zone": "us-2"])
        #expect(c.http == "127.0.0.1:7950", "defaults fill the rest")
        #expect(c.evictionTTL == 600)
        #expect(try c.nodeConfiguration().settings.hive.evictionTTL == .seconds(600))
        #expect(try c.nodeConfiguration().settings.flapThreshold == 3)
        #expect(try c.nodeConfiguration().settings.flapHold == .seconds(45))
        flags.evictionTTL = 90
        #expect(
            try AgentConfiguration.resolve(file: file, flags: flags).evictionTTL == 90, "the flag overrides the file")
    }

    @Test(arguments: [
        ("nmae = \"x\"", "line 1: unknown key 'nmae'"),
        ("name = 5", "'name' must be a string"),
        ("name = x", "line 1: 'x' is not a value"),
        ("join = \"a\"", "'join' must be an array"),
        ("[server]\nport = 1", "unknown table [server]"),
        ("name = \"a\"\nname = \"b\"", "set twice"),
        ("name = \"unterminated", "unterminated string"),
        ("[tags]\nrole = 1", "tag 'role' must be a string"),
        ("eviction_ttl = \"1h\"", "'eviction_ttl' must be an integer (seconds)"),
        ("flap_hold = \"30s\"", "'flap_hold' must be an integer (seconds)"),
    ])
    func badFilesAreClearErrors(text: String, expected: String) {
        do {
            _ = try AgentConfiguration.overrides(fromTOML: text, file: "colony.toml")
            Issue.record("expected an error for \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
            #expect("\(error)".hasPrefix("colony.toml: "))
        }
    }

    @Test func badValuesAreRejected() {
        var flags = AgentConfiguration.Overrides()
        flags.name = "a"
        flags.profile = "moon"
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        flags.profile = nil
        flags.bind = "127.0.0.1:99999"
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        flags.bind = nil
        flags.join = ["[::1"]
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        flags.join = nil
        flags.flapThreshold = -1
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        flags.flapThreshold = 0
        flags.flapHold = 0
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        flags.flapHold = Int.max
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        flags.flapHold = nil
        for ttl in [0, -5, 31 * 86_400] {
            flags.evictionTTL = ttl
            #expect(throws: ConfigurationError.self) { try AgentConfiguration.resolve(file: nil, flags: flags) }
        }
    }
}
