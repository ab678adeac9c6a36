import FlowForgeShared
import Logging
import PostgresNIO
import ServiceLifecycle

/// The scheduler process's services. The cron ticker, dependency cascader and maintenance loop
/// arrive with the execution engine; until then this service holds the process's place in the
/// ServiceGroup and says plainly that it schedules nothing.
public struct SchedulerService: Service {
    let postgres: PostgresClient
    let logger: Logger

    public init(postgres: PostgresClient, logger: Logger) {
        self.postgres = postgres
        self.logger = logger
    }

    public func run() async throws {
        logger.notice("scheduler started: the cron ticker and dependency cascader are not built yet, so no runs are created")
        try? await gracefulShutdown()
    }
}
