import Testing

// What each suite exercises (`swift test --filter` still selects by name; tags group suites
// across files and show in the test report).
extension Tag {
    /// Forged, malformed or abusive input: it must be refused and counted, never crash.
    @Tag static var hostile: Self
    /// Runs the deterministic simulator.
    @Tag static var simulation: Self
}
