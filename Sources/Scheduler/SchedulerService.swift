import AsyncHTTPClient
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The scheduler process: cron ticker, dependency cascader, file watcher, maintenance and the
/// alert notifier, side by side.
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
        /// Opens alert channels' secrets (`FLOWFORGE_SECRET_KEY`, the API's key).
        public var secretBox: SecretBox?
        /// The web UI's address as people reach it (`FLOWFORGE_PUBLIC_URL`), for the run link
        /// in alerts; nil sends no link.
        public var publicURL: String?
        /// This notifier's name in leases and attempt records.
        public var notifierID = "\(ProcessInfo.processInfo.hostName):\(getpid())"
        /// How often the notifier looks for due deliveries without a notification.
        public var alertSweep: Duration = .seconds(2)
        /// Deliveries one notifier sends at once.
        public var alertConcurrency = 32
        /// How long a claimed delivery stays a notifier's: longer than any one attempt
        /// (`alertSender`'s timeouts), so only a notifier that died loses it.
        public var alertLease: Duration = .seconds(90)
        public var alertRetry = AlertRetryPolicy()
        public var alertSender = AlertSender.Config()
        public var alertHTTPClient: HTTPClient = AlertSender.sharedHTTPClient
        /// Late and long-running runs are looked for on maintenance's interval (`rescueInterval`),
        /// at most this many of each per pass.
        public var timingAlertBatch = 500
        public var clock: @Sendable () -> Date = Date.init

        public init() {}

        public init(settings: Settings) {
            historyRetentionDays = settings.historyRetentionDays
            secretBox = settings.secretBox
            publicURL = settings.publicURL
            notifierID = settings.workerID
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
            events: EventStore(client: postgres, logger: logger, metrics: metrics), postgres: postgres,
            notifications: SchedulerNotifications(), metrics: metrics, logger: logger)
        logger.info("scheduler started")
        // Nothing here holds work that a shutdown could lose: on shutdown, stop at once.
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await parts.notifications.run(postgres: parts.postgres, logger: parts.logger) }
                group.addTask { await CronTicker(parts: parts).run() }
                group.addTask { await DependencyCascader(parts: parts).run() }
                group.addTask { await FileArrivalWatcher(parts: parts).run() }
                group.addTask { await Maintenance(parts: parts).run() }
                group.addTask { await AlertNotifier(parts: parts).run() }
            }
        }
        logger.info("scheduler stopped")
    }
}

/// What each of the scheduler's services is given: the settings, the stores, the database and
/// its one LISTEN connection. Every service runs on a loop that notifications wake.
struct SchedulerParts: Sendable {
    let config: SchedulerService.Config
    let store: SchedulerStore
    let events: EventStore
    let postgres: PostgresClient
    let notifications: SchedulerNotifications
    let metrics: FlowForgeMetrics?
    let logger: Logger
}
