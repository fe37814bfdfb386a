/// What the inbound gate established about the packet being handled (docs/design.md §1, "one
/// inbound gate"), passed explicitly down the path that applies what it carries, instead of
/// fields on the core that depend on call order.
struct Inbound: Sendable {
    /// The member to reward or blame for what the packet carries: its claimed sender, when
    /// the packet came from that member's host. Nil when it is not attributable, and for
    /// local inputs (timers, commands): then nobody is blamed.
    var sender: NodeID?
    /// How the news arrived: routing decides from it where news goes next.
    var ingress: Ingress
    /// Routed broadcasts first learned from a tree packet: to forward down the tree.
    var forward: [Update] = []
    /// What the update being applied taught us so far: `enqueue` (news passed on) makes it
    /// fresh; `apply` starts each update at redundant and returns it.
    var learned: Learned = .redundant

    /// News of our own, or from a timer or command.
    static var local: Inbound { Inbound(sender: nil, ingress: .local) }
}

/// What applying one update taught the node (returned by `NodeCore.apply`).
enum Learned: Sendable, Equatable {
    /// News: it changed what we hold, and is passed on.
    case fresh
    /// Known already, or superseded: nothing changed (receivers are idempotent).
    case redundant
    /// Malformed or out of range: ignored and counted.
    case invalid
}
