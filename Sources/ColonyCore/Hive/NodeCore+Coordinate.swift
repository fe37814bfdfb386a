/// This node's network coordinate (Vivaldi, as Serf's): restored at start, used to estimate
/// round trips to peers.
extension NodeCore {
    // MARK: Network coordinates (the hive)

    /// Resume from a saved coordinate (call before `start`).
    public mutating func restoreCoordinate(_ c: Coordinate) { hive.vivaldi.restore(c) }

    /// Estimated round trip to `peer`, seconds, from the coordinate it last reported.
    public func estimatedRTT(to peer: NodeID) -> Double? {
        peer == me.id ? 0 : peerCoordinates[peer].map { vivaldi.coordinate.distance(to: $0) }
    }
}
