import ArgumentParser

@main
struct Colony: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colony",
        abstract: "A self-organising swarm: membership, failure detection and gossip for Swift.",
        subcommands: [
            AgentCommand.self, MembersCommand.self, MonitorCommand.self, JoinCommand.self, LeaveCommand.self,
            ForceLeaveCommand.self,
            DashboardCommand.self,
            KVCommand.self, EventCommand.self, QueryCommand.self, LogCommand.self,
            KeygenCommand.self, KeysCommand.self, CertCommand.self, RTTCommand.self, HiveCommand.self,
            DemoCommand.self, Simulate.self, FuzzCommand.self, TrustBenchCommand.self,
        ]
    )
}
