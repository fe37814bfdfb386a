import ArgumentParser

@main
struct Colony: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colony",
        abstract: "A self-organising swarm: membership, failure detection and gossip for Swift.",
        subcommands: [Simulate.self]
    )
}
