import ArgumentParser
import FlowForgeScheduler
import FlowForgeShared
import PostgresNIO
import ServiceLifecycle
import UnixSignals

@main
struct FlowForgeSchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flowforge-scheduler", abstract: "FlowForge's scheduler process.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = ProcessBootstrap.settings(program: "flowforge-scheduler", overrides: common.overrides)
        let databaseURL = ProcessBootstrap.databaseURL(settings, program: "flowforge-scheduler")
        let logger = settings.makeLogger(label: "flowforge-scheduler")
        let postgres = PostgresClient(configuration: databaseURL.clientConfiguration(applicationName: "flowforge-scheduler"), backgroundLogger: logger)
        let metrics = FlowForgeMetrics()
        let scheduler = SchedulerService(
            postgres: postgres, config: SchedulerService.Config(settings: settings), metrics: metrics, logger: logger)
        var services: [any Service] = [postgres, scheduler]
        if let port = settings.metricsPort {
            services.append(metrics.server(host: settings.httpHost, port: port, postgres: postgres, logger: logger))
        }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
