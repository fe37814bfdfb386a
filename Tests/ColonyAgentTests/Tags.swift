import Testing

// What each suite exercises (`swift test --filter` still selects by name; tags group suites
// across files and show in the test report).
extension Tag {
    /// A headless browser (Chromium).
    @Tag static var browser: Self
    /// Flags, TOML and addresses.
    @Tag static var configuration: Self
    /// The agent's HTTP API.
    @Tag static var http: Self
    /// Real sockets on 127.0.0.1.
    @Tag static var loopback: Self
    /// Starts agent processes.
    @Tag static var process: Self
}
