import ArgumentParser
import FlowForgeAPI
import Hummingbird
import FlowForgeScheduler
import FlowForgeShared
import FlowForgeWorker
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import UnixSignals

/// Everything in one command: a private PostgreSQL (unless DATABASE_URL is set), migrations,
/// and the API, scheduler and worker in this process. Ctrl-C stops all of it, database included.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Run FlowForge on this machine with a private PostgreSQL.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions
    @Option(name: .customLong("state-dir"), help: "Where the private database and the generated token live.")
    var stateDirectory = ".flowforge"

    func run() async throws {
        let settings = ProcessBootstrap.settings(program: "flowforge dev", overrides: http.adding(to: common.overrides))
        let logger = settings.makeLogger(label: "flowforge-dev")
        let isolation = ProcessBootstrap.stepIsolation(settings, program: "flowforge dev", logger: logger)
        let state = URL(fileURLWithPath: stateDirectory)

        var privatePostgres: LocalPostgres?
        do {
            let databaseURL: DatabaseURL
            if let configured = settings.databaseURL {
                databaseURL = configured
            } else {
                let local = LocalPostgres(directory: state.appendingPathComponent("pg"))
                say("Starting a private PostgreSQL in \(local.directory.path) …")
                databaseURL = try await local.start(logger: logger)
                privatePostgres = local
            }
            let migrator = try Migrator(directory: try Migrator.locateDirectory())
            try await PostgresClient.withClient(databaseURL.clientConfiguration(maximumConnections: 1), logger: logger) {
                try await migrator.migrate(client: $0, logger: logger)
            }
            let token = try settings.apiTokens.first ?? Self.stored("api-token", in: state) { LocalPostgres.randomToken(bytes: 24) }
            var settings = settings
            if settings.secretBox == nil {
                settings.secretBox = try SecretBox(keyText: try Self.stored("secret-key", in: state) { SecretBox.newKeyText() })
            }
            try await serve(settings: settings, isolation: isolation, databaseURL: databaseURL, token: token, logger: logger)
        } catch {
            try? privatePostgres?.stop()
            let message = (error as? ConfigError)?.message ?? String(describing: error)
            ProcessBootstrap.fail(program: "flowforge dev", message)
        }
        if let privatePostgres {
            say("Stopping PostgreSQL …")
            try? privatePostgres.stop()
        }
        say("FlowForge stopped.")
    }

    private func serve(settings: Settings, isolation: StepIsolation, databaseURL: DatabaseURL, token: String, logger: Logger) async throws {
        let postgres = PostgresClient(configuration: databaseURL.clientConfiguration(), backgroundLogger: logger)
        // The worker's own connections, with the queue's planner settings.
        let workerPostgres = PostgresClient(configuration: databaseURL.clientConfiguration(queueWorker: true), backgroundLogger: logger)
        let host = settings.httpHost
        let database = databaseURL.description
        let metrics = FlowForgeMetrics()
        let tokenFile = settings.apiTokens.isEmpty ? URL(fileURLWithPath: stateDirectory).appendingPathComponent("api-token").path : "FLOWFORGE_API_TOKEN"
        let app = buildApplication(
            configuration: APIConfiguration(
                host: host, port: settings.httpPort, tokens: settings.apiTokens.isEmpty ? [token] : settings.apiTokens,
                secretBox: settings.secretBox),
            postgres: postgres, logger: logger, runsPostgres: false, metrics: metrics,
            onServerRunning: { port in
                let base = "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)"
                say(
                    """

                    FlowForge is running.
                      Web UI:   \(base)/#token=\(token)
                      API:      \(base)/api   (send: Authorization: Bearer \(token))
                      Token:    \(token)   (also in \(tokenFile))
                      OpenAPI:  \(base)/openapi.yaml
                      Database: \(database)
                    Press Ctrl-C to stop FlowForge and its database.

                    """)
            })
        var scheduler = SchedulerService.Config(settings: settings)
        // Alerts link to runs in this UI unless FLOWFORGE_PUBLIC_URL says otherwise.
        if scheduler.publicURL == nil, settings.httpPort != 0 {
            scheduler.publicURL = "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(settings.httpPort)"
        }
        let group = ServiceGroup(
            services: [
                postgres, workerPostgres, app,
                SchedulerService(postgres: postgres, config: scheduler, metrics: metrics, logger: logger),
                WorkerService(postgres: workerPostgres, settings: settings, stepIsolation: isolation, metrics: metrics, logger: logger),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        try await group.run()
    }

    /// A value `flowforge dev` generated the first time (the API token, the key that seals
    /// webhook secrets), so links, scripts and webhooks keep working across restarts. Readable
    /// only by its owner.
    static func stored(_ name: String, in state: URL, make: () -> String) throws -> String {
        let file = state.appendingPathComponent(name)
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.count >= 16 { return token }
        }
        let token = make()
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        try Data((token + "\n").utf8).write(to: file)
        chmod(file.path, 0o600)
        return token
    }
}

/// Writes a line to stdout at once: print() is block-buffered when stdout is a pipe (make, tee,
/// a log file), and the banner must show up while the server runs, not when it stops.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
