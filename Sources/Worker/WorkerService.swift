import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The worker: N slots that claim runs from the queue and execute their steps.
///
/// LISTEN `flowforge_jobs` wakes it the moment work arrives; a poll every `pollInterval`
/// guarantees progress when a notification is lost (or a retry's backoff ends). Each claimed
/// job's lease is renewed while it runs; a run whose lease is gone (cancelled, or rescued
/// after this worker stalled) is stopped. On graceful shutdown it stops claiming, gives running
/// steps `shutdownGrace` to finish, then hands what remains back to the queue unspent.
public struct WorkerService: Service {
    public struct Config: Sendable {
        public var workerID: String
        public var concurrency: Int
        public var leaseSeconds = 30
        public var pollInterval: Duration = .seconds(1)
        public var shutdownGrace: Duration = .seconds(30)

        public init(workerID: String, concurrency: Int) {
            self.workerID = workerID
            self.concurrency = concurrency
        }
    }

    let postgres: PostgresClient
    let config: Config
    let logger: Logger

    public init(postgres: PostgresClient, config: Config, logger: Logger) {
        self.postgres = postgres
        self.config = config
        var logger = logger
        logger[metadataKey: "worker_id"] = "\(config.workerID)"
        self.logger = logger
    }

    public init(postgres: PostgresClient, settings: Settings, logger: Logger) {
        var config = Config(workerID: settings.workerID, concurrency: settings.workerConcurrency)
        config.leaseSeconds = settings.workerLeaseSeconds
        self.init(postgres: postgres, config: config, logger: logger)
    }

    public func run() async throws {
        let queue = QueueStore(client: postgres, logger: logger)
        let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let running = RunningRuns()
        let executor = RunExecutor()
        logger.info("worker started", metadata: ["concurrency": "\(config.concurrency)"])

        await withTaskGroup(of: Void.self) { helpers in
            helpers.addTask { await listen(wake: wake) }
            helpers.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: config.pollInterval)
                    wake.yield()
                }
            }
            helpers.addTask { await renewLeases(queue: queue, running: running) }

            await withGracefulShutdownHandler {
                for await _ in wakeups {
                    await claim(queue: queue, running: running, executor: executor, wake: wake)
                }
            } onGracefulShutdown: {
                wake.finish()
            }
            helpers.cancelAll()
        }
        await drain(queue: queue, running: running)
        logger.info("worker stopped")
    }

    /// Claims while slots are free and jobs are due.
    private func claim(queue: QueueStore, running: RunningRuns, executor: RunExecutor, wake: AsyncStream<Void>.Continuation) async {
        while true {
            let free = config.concurrency - (await running.count)
            guard free > 0 else { return }
            let claimed: [ClaimedRun]
            do {
                claimed = try await queue.claim(workerID: config.workerID, limit: free, leaseSeconds: config.leaseSeconds)
            } catch {
                logger.warning("cannot claim jobs", metadata: ["error": "\(String(reflecting: error))"])
                return
            }
            guard !claimed.isEmpty else { return }
            for run in claimed {
                let task = Task {
                    var log = logger
                    log[metadataKey: "execution_id"] = "\(run.executionId)"
                    let outcome = await executor.execute(run)
                    do {
                        try await queue.finish(outcome, workerID: config.workerID)
                    } catch {
                        // The lease runs out and maintenance requeues the run: nothing is lost.
                        log.error("cannot record a run's result", metadata: ["error": "\(String(reflecting: error))"])
                    }
                    log.info("run finished", metadata: ["succeeded": "\(outcome.succeeded)"])
                    await running.remove(run.executionId)
                    wake.yield()
                }
                await running.add(run.executionId, task)
            }
        }
    }

    /// Keeps the LISTEN open, reconnecting when the connection drops.
    private func listen(wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await postgres.withConnection { connection in
                    try await connection.listen(on: "flowforge_jobs") { notifications in
                        for try await _ in notifications { wake.yield() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("LISTEN flowforge_jobs interrupted", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Renews leases every second (and at least three times per lease period); stops runs whose
    /// lease is gone. The same query is how a cancel reaches a running step, within about a second.
    private func renewLeases(queue: QueueStore, running: RunningRuns) async {
        let period = Duration.seconds(max(1, config.leaseSeconds / 3))
        while !Task.isCancelled {
            try? await Task.sleep(for: min(period, .seconds(1)))
            let ids = await running.ids
            guard !ids.isEmpty else { continue }
            do {
                let held = try await queue.renewLeases(workerID: config.workerID, executionIds: ids, leaseSeconds: config.leaseSeconds)
                for id in ids where !held.contains(id) {
                    logger.notice("run lost its lease (cancelled or rescued); stopping it", metadata: ["execution_id": "\(id)"])
                    await running.cancel(id)
                }
            } catch {
                logger.warning("cannot renew leases", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Shutdown: wait up to the grace period, then give the rest back without spending an attempt.
    private func drain(queue: QueueStore, running: RunningRuns) async {
        let deadline = ContinuousClock.now + config.shutdownGrace
        while await running.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let remaining = await running.ids
        guard !remaining.isEmpty else { return }
        logger.notice("grace period over; releasing runs back to the queue", metadata: ["count": "\(remaining.count)"])
        // Release first, then stop: a stopped run's result then no longer holds the lease and is ignored.
        try? await queue.release(executionIds: remaining, workerID: config.workerID)
        for id in remaining { await running.cancel(id) }
    }
}

/// The runs this worker is executing, by execution id.
actor RunningRuns {
    private var tasks: [Int64: Task<Void, Never>] = [:]
    /// A run can finish before its task is registered; then `add` must not register it.
    private var finishedBeforeAdded: Set<Int64> = []

    var count: Int { tasks.count }
    var ids: [Int64] { Array(tasks.keys) }

    func add(_ id: Int64, _ task: Task<Void, Never>) {
        if finishedBeforeAdded.remove(id) == nil { tasks[id] = task }
    }

    func remove(_ id: Int64) {
        if tasks.removeValue(forKey: id) == nil { finishedBeforeAdded.insert(id) }
    }

    func cancel(_ id: Int64) {
        tasks[id]?.cancel()
    }
}
