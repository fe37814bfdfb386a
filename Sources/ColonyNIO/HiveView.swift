import ColonyCore

/// A snapshot of the hive as one node sees it.
public struct HiveView: Sendable {
    public var state: Hive
    public var holdsLease: Bool
    /// Broadcasts go through the queens' tree (not plain gossip).
    public var routing: Bool
    public var me: NodeID?

    /// What a node that is not running reports.
    public static let stopped = HiveView(state: Hive(), holdsLease: false, routing: false, me: nil)
}
