import Testing

// What each suite exercises (`swift test --filter` still selects by name; tags group suites
// across files and show in the test report).
extension Tag {
    /// Flags, TOML and addresses.
    @Tag static var configuration: Self
    /// Keys, envelopes and signatures.
    @Tag static var crypto: Self
    /// Real sockets on 127.0.0.1.
    @Tag static var loopback: Self
    /// Hostile peers: limits and refusals (issue 18).
    @Tag static var hostile: Self
}
