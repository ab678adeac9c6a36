import ArgumentParser
import FlowForgeWorker
import FlowForgeShared
import PostgresNIO
import ServiceLifecycle
import UnixSignals

@main
struct FlowForgeWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flowforge-worker", abstract: "FlowForge's worker process.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Concurrent slots (FLOWFORGE_WORKER_CONCURRENCY).") var concurrency: String?
    @Option(name: .customLong("worker-id"), help: "This worker's name in leases (FLOWFORGE_WORKER_ID).") var workerID: String?
    @Option(name: .customLong("lease-seconds"), help: "Lease length; a dead worker's runs are rescued after it (FLOWFORGE_WORKER_LEASE_SECONDS, default 30).")
    var leaseSeconds: String?
    @Option(name: .customLong("shutdown-grace-seconds"), help: "After SIGTERM, how long running steps may finish before they are handed back (FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS, default 30).")
    var shutdownGraceSeconds: String?
    @Option(name: .customLong("step-user"), help: "User (name or uid) that steps run as (FLOWFORGE_STEP_USER).") var stepUser: String?
    @Option(name: .customLong("step-env-passthrough"), help: "Comma-separated variables of this environment that steps get too (FLOWFORGE_STEP_ENV_PASSTHROUGH).")
    var stepEnvPassthrough: String?

    /// Non-dumpable before anything else runs: from here on no other process of this user can
    /// read the worker's environment or memory (`ProcessBootstrap.stepIsolation` checks it again).
    static func main() async {
        _ = try? StepIsolation.protectProcess()
        await main(nil)
    }

    func run() async throws {
        var overrides = common.overrides
        overrides["FLOWFORGE_WORKER_CONCURRENCY"] = concurrency
        overrides["FLOWFORGE_WORKER_ID"] = workerID
        overrides["FLOWFORGE_WORKER_LEASE_SECONDS"] = leaseSeconds
        overrides["FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS"] = shutdownGraceSeconds
        overrides["FLOWFORGE_STEP_USER"] = stepUser
        overrides["FLOWFORGE_STEP_ENV_PASSTHROUGH"] = stepEnvPassthrough
        let settings = ProcessBootstrap.settings(program: "flowforge-worker", overrides: overrides)
        let databaseURL = ProcessBootstrap.databaseURL(settings, program: "flowforge-worker")
        let logger = settings.makeLogger(label: "flowforge-worker")
        let isolation = ProcessBootstrap.stepIsolation(settings, program: "flowforge-worker", logger: logger)
        let postgres = PostgresClient(configuration: databaseURL.clientConfiguration(queueWorker: true, applicationName: "flowforge-worker \(settings.workerID)"), backgroundLogger: logger)
        let metrics = FlowForgeMetrics()
        var services: [any Service] = [postgres, WorkerService(postgres: postgres, settings: settings, stepIsolation: isolation, metrics: metrics, logger: logger)]
        if let port = settings.metricsPort {
            services.append(metrics.server(host: settings.httpHost, port: port, postgres: postgres, logger: logger))
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
