import ArgumentParser
import FlowForgeShared
import PostgresNIO

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the sql/ migrations the database has not seen yet (safe from several hosts at once).")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = ProcessBootstrap.settings(program: "flowforge migrate", overrides: common.overrides)
        let logger = settings.makeLogger(label: "flowforge-migrate")
        do {
            let databaseURL = try settings.requireDatabaseURL()
            let migrator = try Migrator(directory: try Migrator.locateDirectory())
            let applied = try await PostgresClient.withClient(databaseURL.clientConfiguration(maximumConnections: 1), logger: logger) {
                try await migrator.migrate(client: $0, logger: logger)
            }
            print(applied.isEmpty ? "database is up to date" : applied.map { "applied \($0)" }.joined(separator: "\n"))
        } catch let error as ConfigError {
            ProcessBootstrap.fail(program: "flowforge migrate", error.message)
        } catch {
            ProcessBootstrap.fail(program: "flowforge migrate", "cannot migrate: \(String(describing: error))")
        }
    }
}
