import Testing

// What each suite exercises (`swift test --filter` still selects by name; tags group suites
// across files and show in the test report).
extension Tag {
    /// SQLite on disk.
    @Tag static var storage: Self
}
