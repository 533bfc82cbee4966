import ArgumentParser

/// `shardscan mirror`: keeping the local mirror of shards complete and current.
struct MirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mirror",
        abstract: "Keep the local mirror of shards complete and current.",
        subcommands: [MirrorSyncCommand.self]
    )
}
