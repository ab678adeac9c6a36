import ArgumentParser
import FlowForgeShared
import Foundation
import Logging

/// Starts and stops a private PostgreSQL cluster: what `flowforge dev` does for itself, exposed
/// for scripts (the test command uses it) and for users who want the database without the rest.
struct PostgresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres", abstract: "Start or stop a private PostgreSQL cluster in a folder.",
        subcommands: [Start.self, Stop.self, CPU.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create (if needed) and start the cluster; print its DATABASE_URL on stdout.")

        @Option(help: "Folder that holds the cluster.") var dir = ".flowforge/pg"
        @Option(name: .customLong("max-connections"), help: "PostgreSQL max_connections.") var maxConnections = 200

        func run() async throws {
            let logger = Logger(label: "flowforge-postgres")
            do {
                let url = try await LocalPostgres(directory: URL(fileURLWithPath: dir)).start(maxConnections: maxConnections, logger: logger)
                print(url.urlString)
            } catch let error as ConfigError {
                ProcessBootstrap.fail(program: "flowforge postgres start", error.message)
            }
        }
    }

    /// For benchmark scripts (`bench/compare-pgqueuer.sh`): read it before and after some work
    /// to learn what the database spent on it, whoever the client was.
    struct CPU: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cpu",
            abstract: "Print the CPU seconds the running cluster's processes have used, exited backends included (Linux).")

        @Option(help: "Folder that holds the cluster.") var dir = ".flowforge/pg"

        func run() throws {
            guard let seconds = postgresCPUSeconds(LocalPostgres(directory: URL(fileURLWithPath: dir))) else {
                ProcessBootstrap.fail(program: "flowforge postgres cpu", "no running cluster in \(dir) (or no /proc to read)")
            }
            print(BenchFormat.decimal(seconds, 2))
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the cluster (fast shutdown).")

        @Option(help: "Folder that holds the cluster.") var dir = ".flowforge/pg"

        func run() throws {
            do {
                try LocalPostgres(directory: URL(fileURLWithPath: dir)).stop()
            } catch let error as ConfigError {
                ProcessBootstrap.fail(program: "flowforge postgres stop", error.message)
            }
        }
    }
}
