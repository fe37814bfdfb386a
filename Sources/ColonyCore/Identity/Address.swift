/// Where a node listens: a host (an IP literal for transport, a name only in seed lists) and a
/// port. The core treats it as an opaque value; drivers resolve it.
public struct Address: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A peer to send to: its address, and its id when known (a seed is known by address only).
package struct Peer: Hashable, Sendable, CustomStringConvertible {
    public var id: NodeID?
    public var address: Address

    public init(id: NodeID?, address: Address) {
        self.id = id
        self.address = address
    }

    public var description: String { id.map { "\($0)@\(address)" } ?? "\(address)" }
}
