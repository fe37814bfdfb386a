/// The election, lease and roster protocol of a cell.
package enum HiveMessage: Sendable, Equatable {
    /// Would you vote for me in `term` (not yet mine)? Changes nothing at the voter.
    case preVote(cell: CellID, term: UInt64, version: RosterVersion, boot: UInt64)
    case preVoteReply(cell: CellID, term: UInt64, granted: Bool)
    /// Raft's RequestVote; the roster version stands for the log.
    case requestVote(cell: CellID, term: UInt64, version: RosterVersion, boot: UInt64, signature: Signature?)
    case vote(cell: CellID, term: UInt64, candidate: NodeID, granted: Bool, boot: UInt64, signature: Signature?)
    /// The queen's lease heartbeat, round `round`; carries the roster when the worker's is older.
    case heartbeat(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, roster: [Voter]?, signature: Signature?)
    /// `coordinate`: the worker's network coordinate, sent now and then (the queen splits
    /// her cell by them).
    case heartbeatAck(
        cell: CellID, term: UInt64, round: UInt64, version: RosterVersion, boot: UInt64, coordinate: Coordinate?)
    /// A member asks a queen to admit it to her cell.
    case enlist(cell: CellID, boot: UInt64)
    /// The queen's answer; on acceptance a heartbeat carrying a roster with it follows.
    case enlisted(cell: CellID, term: UInt64, accepted: Bool)
    /// A worker leaves the cell (re-homing, leaving the swarm).
    case release(cell: CellID, boot: UInt64)
    /// The queen steps down at once (leaving, deposed, merging): elect without waiting.
    case abdicate(cell: CellID, term: UInt64, dissolve: Bool)
    /// Breeding: the queen of `cell` in `term` removed the receiver from her roster and sends
    /// it to `newCell`, whose roster is `voters` and whose first queen should be `designate`
    /// (the new cell confirms her by vote).
    case breed(cell: CellID, term: UInt64, newCell: CellID, designate: NodeID, voters: [Voter], signature: Signature?)
    /// An operator's order (`colony hive depose`, from any member): the queen of `cell` in
    /// `term` abdicates and sits out the next elections.
    case depose(cell: CellID, term: UInt64, signature: Signature?)
    /// A member's accusation, to its queen (or, when she is the accused, another queen of
    /// `cell`): the accused's score with it fell below the eviction threshold.
    case accuse(cell: CellID, accusation: Accusation)
    /// An operator's order (`colony hive lift`, from any member) to the queen that evicted
    /// `evicted`: lift her eviction. `cell` is the eviction's.
    case lift(cell: CellID, evicted: NodeID, signature: Signature?)
    /// A worker's signed pledge to the queen of `cell` in `term` (`Pledge`): what an eviction
    /// of it carries to show the issuer was its queen.
    case pledge(cell: CellID, term: UInt64, queen: NodeID, boot: UInt64, atMs: UInt64, signature: Signature?)
}

/// A queen deposed (or asked to be): her cell, term and id.
public struct Deposal: Sendable, Equatable {
    public var cell: CellID
    public var term: UInt64
    public var queen: NodeID
    /// This node was the queen and has abdicated (false: the order went to her).
    public var local: Bool
}

public enum DeposeError: Error, Equatable, CustomStringConvertible {
    case hiveOff
    /// No queen known for the cell (or this node is in no cell and none was named).
    case noQueen(CellID?)
    /// Operators are required and the order is not one's for this cell and term.
    case order(OrderRefusal)

    public var description: String {
        switch self {
        case .hiveOff: "the hive is off on this node (colony agent --hive)"
        case .noQueen(nil): "this node is in no cell; name one (colony hive shows them)"
        case .noQueen(let c?): "no live queen known for cell \(c)"
        case .order(let r): "\(r) (a deposal names the queen's cell and current term: colony hive shows them)"
        }
    }
}
