import ArgumentParser

@main
struct FlowForgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowforge",
        abstract: "FlowForge operator and client commands.",
        subcommands: [
            DevCommand.self, MigrateCommand.self, PostgresCommand.self, BenchCommand.self, HealthcheckCommand.self,
            WorkflowsCommand.self, RunCommand.self, ExecutionsCommand.self, BackfillCommand.self, ReceiveAlertsCommand.self,
        ])
}
