import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The scheduler process: cron ticker, dependency cascader and maintenance, side by side.
/// Every part is safe to run as several replicas: rows are claimed with SKIP LOCKED and runs
/// are protected by unique keys, so no leader is needed.
public struct SchedulerService: Service {
    /// Every setting of the scheduler's services, with its default: the one place they are filled in.
    public struct Config: Sendable {
        public var tickerMaxSleep: Duration = .seconds(5)
        /// Seconds ahead of their time that scheduled runs are created (0: at their time).
        public var scheduleLookahead: TimeInterval = SchedulerStore.defaultLookahead
        public var cascadeSweep: Duration = .seconds(2)
        public var rescueInterval: Duration = .seconds(5)
        public var pruneInterval: Duration = .seconds(600)
        /// Runs rescued per transaction; a full batch is followed at once by another.
        public var rescueBatchSize = 500
        /// How often the folders of file-arrival triggers are listed.
        public var fileScanInterval: Duration = .seconds(2)
        /// How often the file watcher reads its triggers again without a notification.
        public var fileTriggersRefresh: Duration = .seconds(60)
        /// Finished executions older than this are deleted; 0 keeps them all.
        public var historyRetentionDays = 30
        public var clock: @Sendable () -> Date = Date.init

        public init() {}

        public init(settings: Settings) {
            historyRetentionDays = settings.historyRetentionDays
        }
    }

    let postgres: PostgresClient
    let config: Config
    let metrics: FlowForgeMetrics?
    let logger: Logger

    public init(postgres: PostgresClient, config: Config = Config(), metrics: FlowForgeMetrics? = nil, logger: Logger) {
        self.postgres = postgres
        self.config = config
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        let parts = SchedulerParts(
            config: config, store: SchedulerStore(client: postgres, logger: logger, metrics: metrics),
            events: EventStore(client: postgres, logger: logger, metrics: metrics), postgres: postgres, logger: logger)
        logger.info("scheduler started")
        // Nothing here holds work that a shutdown could lose: on shutdown, stop at once.
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await CronTicker(parts: parts).run() }
                group.addTask { await DependencyCascader(parts: parts).run() }
                group.addTask { await FileArrivalWatcher(parts: parts).run() }
                group.addTask { await Maintenance(parts: parts).run() }
            }
        }
        logger.info("scheduler stopped")
    }
}

/// What each of the scheduler's services is given: the settings, the stores and the database
/// (for LISTEN). Every service runs on a `BackgroundLoop`.
struct SchedulerParts: Sendable {
    let config: SchedulerService.Config
    let store: SchedulerStore
    let events: EventStore
    let postgres: PostgresClient
    let logger: Logger
}
