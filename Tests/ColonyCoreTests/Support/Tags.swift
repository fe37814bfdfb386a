import Testing

// What each suite exercises (`swift test --filter` still selects by name; tags group suites
// across files and show in the test report).
extension Tag {
    /// Forged, malformed or abusive input: it must be refused and counted, never crash.
    @Tag static var hostile: Self
    /// A sub-machine driven on its own, with no node around it.
    @Tag static var machine: Self
    /// Whole cores (one, or a few on the in-memory `Net`).
    @Tag static var node: Self
    /// Keeps the core free of clocks, sockets and tasks.
    @Tag static var purity: Self
    /// Typed time (`Instant`, `Duration`) and the core's arithmetic on it.
    @Tag static var time: Self
    /// Encoding and decoding of the wire format.
    @Tag static var wire: Self
}
