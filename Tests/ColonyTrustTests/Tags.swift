import Testing

// What each suite exercises (`swift test --filter` still selects by name; tags group suites
// across files and show in the test report).
extension Tag {
    /// Keys, envelopes and signatures.
    @Tag static var crypto: Self
}
