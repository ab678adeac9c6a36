import FlowForgeShared
import Logging
import PostgresNIO
import ServiceLifecycle

/// The worker process's service. Claiming and running jobs arrives with the execution engine;
/// until then queued runs wait in the `jobs` table and this service says so.
public struct WorkerService: Service {
    let postgres: PostgresClient
    let settings: Settings
    let logger: Logger

    public init(postgres: PostgresClient, settings: Settings, logger: Logger) {
        self.postgres = postgres
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        logger.notice(
            "worker started: running steps is not built yet, so queued runs stay queued",
            metadata: ["worker_id": "\(settings.workerID)"])
        try? await gracefulShutdown()
    }
}
