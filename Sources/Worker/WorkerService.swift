import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The worker: N slots that claim runs from the queue and execute their steps.
///
/// It claims as many due jobs as it has free slots in one statement, and writes results in
/// batches (see `ResultWriter`). `NotificationChannel.jobs` wakes it the moment work arrives;
/// otherwise it sleeps until the earliest future `run_at` (a retry's backoff, a dependency's
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
        let running = RunningRuns(slots: config.concurrency, metrics: metrics)
        let writer = ResultWriter(
            queue: queue, workerID: config.workerID, leaseSeconds: config.leaseSeconds, giveUpAfter: .seconds(config.leaseSeconds),
            running: running, stopping: stopping, wake: wakeup.wake, logger: logger)
        let events = EventStore(client: postgres, logger: logger)
        let executor = RunExecutor(
            shell: ShellStepRunner(isolation: config.stepIsolation), loadEvent: { try await events.eventData(executionId: $0) })
        let launch: @Sendable (ClaimedRun) -> Task<Void, Never> = { run in
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
                writer.submit(outcome)
            }
        }
        await writer.setLauncher(launch)
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
                            if await running.cancel(executionId: id) {
                                logger.notice("stopping a cancelled run", metadata: ["execution_id": "\(id)"])
                            }
                        }
                    })
            }
            helpers.addTask { await renewLeases(queue: queue, running: running) }

            await withGracefulShutdownHandler {
                // A graceful shutdown sets `stopping`; cancellation (an embedding service group
                // torn down at once) ends the loop as well.
                while !stopping.isSet, !Task.isCancelled {
                    let pause = await claim(queue: queue, running: running, launch: launch)
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
            await drain(queue: queue, running: running)
            helpers.cancelAll()
        }
        logger.info("worker stopped")
    }

    /// Claims while slots are free and jobs are due (a busy worker's slots are refilled by its
    /// result writer; this loop takes over when work arrives at an idle one). Returns how long
    /// to sleep unless woken: until the next job not yet due when it took every due job it
    /// could, and at most `pollInterval`.
    private func claim(queue: QueueStore, running: RunningRuns, launch: @Sendable (ClaimedRun) -> Task<Void, Never>) async -> Duration {
        while true {
            let free = await running.reserve(upTo: Int.max, waitIfNone: true)
            guard free > 0 else { return config.pollInterval }
            let taken: QueueStore.Claim
            do {
                let workerID = config.workerID, leaseSeconds = config.leaseSeconds
                taken = try await abandoning(after: .seconds(leaseSeconds)) {
                    try await queue.claim(workerID: workerID, limit: free, leaseSeconds: leaseSeconds)
                }
            } catch {
                await running.complete(finished: [], reserved: free, started: [])
                if !Task.isCancelled { logger.warning("cannot claim jobs", metadata: ["error": "\(String(reflecting: error))"]) }
                return config.pollInterval
            }
            let claimed = taken.runs
            await running.complete(finished: [], reserved: free, started: claimed.map { ($0.key, launch($0)) })
            await running.claimed(claimed.count, of: free)
            if claimed.count < free { return untilNextJob(dueIn: taken.nextDueIn) }
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
    private func renewLeases(queue: QueueStore, running: RunningRuns) async {
        let period = Duration.seconds(max(1, config.leaseSeconds / 3))
        while !Task.isCancelled {
            try? await Task.sleep(for: min(period, .seconds(1)))
            let attempts = await running.attempts
            guard !attempts.isEmpty else { continue }
            do {
                let workerID = config.workerID, leaseSeconds = config.leaseSeconds
                let held = try await abandoning(after: .seconds(leaseSeconds)) {
                    try await queue.renewLeases(workerID: workerID, attempts: attempts, leaseSeconds: leaseSeconds)
                }
                for lost in attempts where !held.contains(lost) {
                    if await running.cancel(lost) {
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
    private func drain(queue: QueueStore, running: RunningRuns) async {
        let deadline = ContinuousClock.now + config.shutdownGrace
        while await running.count > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let remaining = await running.attempts
        guard !remaining.isEmpty else { return }
        logger.notice("grace period over; releasing runs back to the queue", metadata: ["count": "\(remaining.count)"])
        // Release first, then stop: a stopped run's result then no longer holds the lease and is ignored.
        let workerID = config.workerID
        _ = try? await abandoning(after: .seconds(config.leaseSeconds)) { try await queue.release(remaining, workerID: workerID) }
        for attempt in remaining { await running.cancel(attempt) }
    }
}

/// The runs this worker is executing, by attempt, and its slots. A run holds its slot
/// until its result is written, so its lease is renewed until then. A claim first reserves the
/// slots it may fill, so that the claim loop and the result writer never fill one slot twice.
actor RunningRuns {
    private var tasks: [RunAttempt: Task<Void, Never>] = [:]
    private var reserved = 0
    /// A run can finish before its task is registered; then it must not be registered.
    private var finishedBeforeAdded: Set<RunAttempt> = []
    private let slots: Int
    private let metrics: FlowForgeMetrics?

    init(slots: Int, metrics: FlowForgeMetrics?) {
        self.slots = slots
        self.metrics = metrics
    }

    var count: Int { tasks.count }
    var attempts: [RunAttempt] { Array(tasks.keys) }

    /// The claim loop found every slot taken and waits for one (see `takeSlotWaiter`).
    private var slotWaiter = false

    /// Reserves up to `wanted` free slots; returns how many it reserved. With `waitIfNone`
    /// (the claim loop), finding none records that the caller now waits for a free slot.
    func reserve(upTo wanted: Int, waitIfNone: Bool = false) -> Int {
        let granted = max(0, min(wanted, slots - tasks.count - reserved))
        reserved += granted
        if waitIfNone { slotWaiter = granted == 0 }
        return granted
    }

    /// Whether the claim loop is waiting for a slot; clears it (the caller wakes the loop).
    func takeSlotWaiter() -> Bool {
        defer { slotWaiter = false }
        return slotWaiter
    }

    /// Whether the last claim filled every slot it asked for, so more jobs may be due. The
    /// result writer claims in its transaction only then; otherwise the queue was drained and
    /// new work announces itself (NOTIFY, or the poll), and a claim there would find nothing.
    private(set) var queueMayHaveMore = false

    func claimed(_ count: Int, of limit: Int) {
        guard limit > 0 else { return }
        queueMayHaveMore = count >= limit
    }

    /// In one step: frees the slots of `finished` runs, drops a reservation, and registers the
    /// runs `started` into it (never more than were reserved plus freed).
    func complete(finished: [RunAttempt], reserved released: Int, started: [(RunAttempt, Task<Void, Never>)]) {
        for id in finished where tasks.removeValue(forKey: id) == nil { finishedBeforeAdded.insert(id) }
        reserved -= released
        for (id, task) in started where finishedBeforeAdded.remove(id) == nil { tasks[id] = task }
        metrics?.setSlots(total: slots, busy: tasks.count)
    }

    /// Stops an attempt's steps (its task is cancelled; the step runners kill what they
    /// started). Returns false when this worker is not running it, or already stopping it.
    @discardableResult
    func cancel(_ attempt: RunAttempt) -> Bool {
        guard let task = tasks[attempt], !task.isCancelled else { return false }
        task.cancel()
        return true
    }

    /// Stops every attempt of a run this worker holds (the run was cancelled).
    func cancel(executionId: Int64) -> Bool {
        var stopped = false
        for attempt in tasks.keys where attempt.executionId == executionId { stopped = cancel(attempt) || stopped }
        return stopped
    }
}
