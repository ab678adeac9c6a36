import ArgumentParser

@main
struct FlowForgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowforge",
        abstract: "FlowForge operator commands.",
        subcommands: [DevCommand.self, MigrateCommand.self, PostgresCommand.self, BenchCommand.self, HealthcheckCommand.self])
}
