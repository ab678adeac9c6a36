import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The scheduler process: cron ticker, dependency cascader and lease rescue, side by side.
/// Every part is safe to run as several replicas: rows are claimed with SKIP LOCKED and runs
/// are protected by unique keys, so no leader is needed.
public struct SchedulerService: Service {
    public struct Config: Sendable {
        public var tickerMaxSleep: Duration = .seconds(5)
        public var cascadeSweep: Duration = .seconds(2)
        public var rescueInterval: Duration = .seconds(5)
        public var clock: @Sendable () -> Date = Date.init

        public init() {}
    }

    let postgres: PostgresClient
    let config: Config
    let logger: Logger

    public init(postgres: PostgresClient, config: Config = Config(), logger: Logger) {
        self.postgres = postgres
        self.config = config
        self.logger = logger
    }

    public func run() async throws {
        let store = SchedulerStore(client: postgres, logger: logger)
        logger.info("scheduler started")
        // Nothing here holds work that a shutdown could lose: on shutdown, stop at once.
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await CronTicker(maxSleep: config.tickerMaxSleep, store: store, postgres: postgres, clock: config.clock, logger: logger).run()
                }
                group.addTask {
                    await DependencyCascader(sweepInterval: config.cascadeSweep, store: store, postgres: postgres, logger: logger).run()
                }
                group.addTask { await LeaseRescuer(interval: config.rescueInterval, store: store, logger: logger).run() }
            }
        }
        logger.info("scheduler stopped")
    }
}
