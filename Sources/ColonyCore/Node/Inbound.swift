/// What a driver's inbound gate proved about who sent a packet (docs/design.md §6).
public enum PacketSender: Sendable, Equatable {
    /// The packet verified as sent by this identity (a pair MAC or a signature, checked by the
    /// driver against the key the identity derives from).
    case verified(NodeID)
    /// The driver does not authenticate packets (a swarm run without identities, as
    /// memberlist): the claimed sender is believed, and attributed only when the packet came
    /// from that member's host. A core with an identity drops such packets.
    case unverified
}

extension NodeCore {
    /// Whether rewards, penalties and the per-sender bucket go to `packet`'s claimed sender;
    /// nil if the packet must be dropped as not coming from whom it claims.
    ///
    /// With identities, a packet counts only if it verified as its claimed sender, and then it
    /// is attributable to that member wherever it came from: blame attaches to identities,
    /// never addresses.
    /// Without them, only a packet from the claimed member's host is attributable, so a spoofed
    /// `from` cannot get another member graylisted.
    func attribution(of packet: Packet, from source: Address, sender: PacketSender) -> Bool? {
        switch sender {
        case .verified(let id):
            // A stranger has no standing to win or lose (its identity is free to make).
            return id == packet.from ? table[id] != nil : nil
        case .unverified:
            guard !authenticates else { return nil }
            return table[packet.from].map { $0.member.address.host == source.host } ?? false
        }
    }
}

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
