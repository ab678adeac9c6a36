import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The worker: N slots that claim runs from the queue and execute their steps.
///
/// Its `RunDispatcher` owns the slots: it claims as many due jobs as there are free slots in
/// one statement, and writes results in batches. `NotificationChannel.jobs` wakes the claim
/// loop the moment work arrives; otherwise it sleeps until the earliest future `run_at` (a retry's backoff, a dependency's
/// delay), and at most `pollInterval`, so a lost notification delays a job and never strands
/// it. `NotificationChannel.executionCancelled` stops a cancelled run at once; lease renewal, which
/// notices a lease that is gone, is the fallback. On graceful shutdown it stops claiming,
/// gives running steps `shutdownGrace` to finish, then hands the rest back unspent.
public struct WorkerService: Service {
    public struct Config: Sendable {
        public var workerID: String
        public var concurrency: Int
        public var leaseSeconds = 30
        public var pollInterval: Duration = .seconds(1)
        public var shutdownGrace: Duration = .seconds(30)
        /// How often running steps' changed output is written (one statement for all of them);
        /// nil: never, a step's output shows only with its result.
        public var liveOutputInterval: Duration? = .seconds(1)
        /// Who steps run as and the environment they start from.
        public var stepIsolation = StepIsolation.sameUser()

        public init(workerID: String, concurrency: Int) {
            self.workerID = workerID
            self.concurrency = concurrency
        }
    }

    let postgres: PostgresClient
    let config: Config
    let metrics: FlowForgeMetrics?
    let logger: Logger

    public init(postgres: PostgresClient, config: Config, metrics: FlowForgeMetrics? = nil, logger: Logger) {
        self.postgres = postgres
        self.config = config
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "worker_id"] = "\(config.workerID)"
        self.logger = logger
    }

    /// - stepIsolation: from `ProcessBootstrap.stepIsolation`, which checks it at start.
    public init(
        postgres: PostgresClient, settings: Settings, stepIsolation: StepIsolation, metrics: FlowForgeMetrics? = nil, logger: Logger
    ) {
        var config = Config(workerID: settings.workerID, concurrency: settings.workerConcurrency)
        config.leaseSeconds = settings.workerLeaseSeconds
        config.shutdownGrace = .seconds(settings.workerShutdownGraceSeconds)
        config.stepIsolation = stepIsolation
        self.init(postgres: postgres, config: config, metrics: metrics, logger: logger)
    }

    public func run() async throws {
        let queue = QueueStore(client: postgres, logger: logger, metrics: metrics)
        let wakeup = Wakeup()
        let stopping = AtomicFlag()
        let live = config.liveOutputInterval == nil ? nil : LiveOutput()
        let slots = RunDispatcher(
            queue: queue, settings: config, stopping: stopping, wakeClaimLoop: wakeup.wake, metrics: metrics, logger: logger, live: live)
        let events = EventStore(client: postgres, logger: logger)
        let executor = RunExecutor(
            shell: ShellStepRunner(isolation: config.stepIsolation), loadEvent: { try await events.eventData(executionId: $0) }, live: live)
        await slots.setLauncher { run in
            observeLatency(of: run)
            return Task {
                let debug = logger.logLevel <= .debug
                if debug {
                    logger.debug(
                        "run started",
                        metadata: ["execution_id": "\(run.executionId)", "workflow": "\(run.workflowName)", "attempt": "\(run.attempt)"])
                }
                let outcome = await executor.execute(run)
                if debug {
                    logger.debug("run finished", metadata: ["execution_id": "\(run.executionId)", "succeeded": "\(outcome.succeeded)"])
                }
                slots.submit(outcome)
            }
        }
        metrics?.setSlots(total: config.concurrency, busy: 0)
        logger.info("worker started", metadata: ["concurrency": "\(config.concurrency)"])

        await withTaskGroup(of: Void.self) { helpers in
            helpers.addTask {
                await listen(
                    [.jobs, .executionCancelled], postgres: postgres, logger: logger,
                    onSubscribed: wakeup.wake,
                    onNotification: { channel, payload in
                        guard channel == .executionCancelled else { return wakeup.wake() }
                        guard let id = Int64(payload) else { return }
                        Task {
                            if await slots.cancel(executionId: id) {
                                logger.notice("stopping a cancelled run", metadata: ["execution_id": "\(id)"])
                            }
                        }
                    })
            }
            helpers.addTask { await renewLeases(queue: queue, slots: slots) }
            if let interval = config.liveOutputInterval, let live {
                helpers.addTask {
                    // Asked for only while steps run; the flush writes only what changed.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: interval)
                        if live.stepCount > 0 { slots.flushLiveOutput() }
                    }
                }
            }

            await withGracefulShutdownHandler {
                // A graceful shutdown sets `stopping`; cancellation (an embedding service group
                // torn down at once) ends the loop as well.
                while !stopping.isSet, !Task.isCancelled {
                    let pause = await claim(slots)
                    guard !stopping.isSet else { break }
                    await wakeup.wait(upTo: pause)
                }
            } onGracefulShutdown: {
                stopping.set()
                wakeup.wake()
            }
            // The helpers outlive the claim loop: through the grace period the running steps'
            // leases must still be renewed (or maintenance rescues runs that are about to
            // finish) and cancellations still heard. They stop once nothing is held.
            await drain(queue: queue, slots: slots)
            helpers.cancelAll()
        }
        logger.info("worker stopped")
    }

    /// Asks for claims while they fill every free slot (a busy worker's slots are refilled as
    /// its results are written; this loop takes over when work arrives at an idle one). Returns
    /// how long to sleep unless woken: until the next job not yet due when the queue was
    /// drained, and at most `pollInterval`.
    private func claim(_ slots: RunDispatcher) async -> Duration {
        while true {
            switch await slots.claim() {
            case .filled: continue
            case .drained(let nextDueIn): return untilNextJob(dueIn: nextDueIn)
            case .noFreeSlot, .failed: return config.pollInterval
            }
        }
    }

    /// Schedule lag and cascade latency, measured on the database's clock (due → started).
    private func observeLatency(of run: ClaimedRun) {
        guard run.attempt == 1 else { return }
        switch run.triggerType {
        case .scheduled: metrics?.recordScheduleLag(seconds: run.waitedSeconds)
        case .dependency: metrics?.recordCascadeLatency(seconds: run.waitedSeconds)
        default: break
        }
    }

    /// How long to sleep when nothing is due: until the next delayed job comes due (a retry's
    /// backoff, a dependency's delay), at most `pollInterval`.
    private func untilNextJob(dueIn seconds: Double?) -> Duration {
        guard let seconds else { return config.pollInterval }
        return min(config.pollInterval, .milliseconds(max(1, Int64((seconds * 1000).rounded(.up)))))
    }

    /// Renews leases every second (and at least three times per lease period); stops runs whose
    /// lease is gone (cancelled while the notification was lost, or rescued after this worker
    /// stalled).
    private func renewLeases(queue: QueueStore, slots: RunDispatcher) async {
        let period = Duration.seconds(max(1, config.leaseSeconds / 3))
        while !Task.isCancelled {
            try? await Task.sleep(for: min(period, .seconds(1)))
            let attempts = await slots.attempts
            guard !attempts.isEmpty else { continue }
            do {
                let workerID = config.workerID, leaseSeconds = config.leaseSeconds
                let held = try await abandoning(after: .seconds(leaseSeconds)) {
                    try await queue.renewLeases(workerID: workerID, attempts: attempts, leaseSeconds: leaseSeconds)
                }
                for lost in attempts where !held.contains(lost) {
                    if await slots.cancel(lost) {
                        logger.notice(
                            "run lost its lease (cancelled or rescued); stopping it",
                            metadata: ["execution_id": "\(lost.executionId)", "attempt": "\(lost.attempt)"])
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot renew leases", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Shutdown: wait up to the grace period, then give the rest back without spending an attempt.
    /// A run counts until its result is written, so the grace covers the write too. Cancelled
    /// (torn down at once, not a graceful shutdown), it gives the runs back without waiting.
    private func drain(queue: QueueStore, slots: RunDispatcher) async {
        let deadline = ContinuousClock.now + config.shutdownGrace
        while await slots.count > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let remaining = await slots.attempts
        guard !remaining.isEmpty else { return }
        logger.notice("grace period over; releasing runs back to the queue", metadata: ["count": "\(remaining.count)"])
        // Release first, then stop: a stopped run's result then no longer holds the lease and is ignored.
        let workerID = config.workerID
        _ = try? await abandoning(after: .seconds(config.leaseSeconds)) { try await queue.release(remaining, workerID: workerID) }
        for attempt in remaining { await slots.cancel(attempt) }
    }
}
