import FlowForgeShared
import Foundation
import Logging
import Synchronization

/// The one owner of a worker's slots: it alone claims runs, starts them, and writes their
/// results, always from one flush loop, so no two claims can fill the same slot.
///
/// Results are written in batches: while one batch is being written, the results that arrive
/// are collected and go together in the next transaction (group commit). That transaction
/// also claims as many new runs as there are slots free, so a busy worker spends one commit per
/// batch of runs, which is what lets one worker process finish thousands of short runs a
/// second. An idle worker's claim loop only rings the bell (`claim()`): a notification, the
/// poll, or a delayed job coming due asks the flush loop for a claim.
///
/// A write that fails (the database restarting, a dropped connection) is retried for a lease
/// period; past that the runs' leases have run out, lease rescue has requeued them,
/// and this worker's results would be refused anyway.
///
/// The running steps' live output (`LiveOutput`) is written by the same loop, when asked
/// (`flushLiveOutput()`, once a second): every step whose output changed, in one statement. So
/// it is never written at the same time as a result, and a result, after which its run's live
/// output is deleted, is never overtaken by a live write of the same run.
actor RunDispatcher {
    private let queue: QueueStore
    private let settings: WorkerService.Config
    private let stopping: AtomicFlag
    /// Wakes the claim loop (see `slotWanted`).
    private let wakeClaimLoop: @Sendable () -> Void
    private let metrics: FlowForgeMetrics?
    private let logger: Logger
    /// The running steps' output, written when a flush is asked for it.
    private let live: LiveOutput?
    /// The last live write failed: the next failure is not logged again until one succeeds.
    private var liveWriteFailing = false
    private var launch: (@Sendable (ClaimedRun) -> Task<Void, Never>)?
    /// Results and claim requests handed in and not yet taken by a flush.
    private let inbox = Inbox()

    /// The runs in the slots, by attempt. A run holds its slot until its result is written,
    /// so its lease is renewed until then.
    private var running: [RunAttempt: Task<Void, Never>] = [:]
    /// Whether the queue may hold due jobs this worker has not claimed: the last claim filled
    /// every slot it asked for, or a claim was asked for while no slot was free. A flush claims
    /// only then; otherwise the queue was drained and new work announces itself.
    private var queueMayHaveMore = false
    /// A claim was asked for while every slot was taken, and its loop now sleeps until the next
    /// poll. A flush that frees slots and cannot fill them all wakes it: the queue looked drained
    /// to that flush's claim (another worker took what it saw), and a claim of its own asks anew.
    private var slotWanted = false

    init(
        queue: QueueStore, settings: WorkerService.Config, stopping: AtomicFlag, wakeClaimLoop: @escaping @Sendable () -> Void,
        metrics: FlowForgeMetrics?, logger: Logger, live: LiveOutput? = nil
    ) {
        self.live = live
        self.queue = queue
        self.settings = settings
        self.stopping = stopping
        self.wakeClaimLoop = wakeClaimLoop
        self.metrics = metrics
        self.logger = logger
    }

    /// How a claimed run is started; set once, before the first claim (it needs this dispatcher).
    func setLauncher(_ launch: @escaping @Sendable (ClaimedRun) -> Task<Void, Never>) {
        self.launch = launch
    }

    var count: Int { running.count }
    var attempts: [RunAttempt] { Array(running.keys) }

    /// Hands in a run's result and returns at once: the run's task ends here, and the run keeps
    /// its slot (and its lease is renewed) until the result is written. One flush at a time
    /// writes what has arrived: with two or three overlapping, batches only got smaller and
    /// throughput fell.
    nonisolated func submit(_ outcome: RunOutcome) {
        if inbox.append(outcome) { Task { await flush() } }
    }

    /// Asks the flush loop to write the running steps' live output that changed since it last did.
    nonisolated func flushLiveOutput() {
        if inbox.requestLiveOutput() { Task { await flush() } }
    }

    /// What a claim asked for with `claim()` found.
    enum ClaimReport: Sendable, Equatable {
        /// Every slot was taken. The next result's flush claims for its slot, and one that frees
        /// slots it cannot fill wakes the claim loop.
        case noFreeSlot
        /// It filled every slot it could, so more jobs may be due: ask again.
        case filled
        /// The queue had fewer due jobs than free slots; the next job not yet due comes due in
        /// this many seconds (nil: none waits, or not known).
        case drained(nextDueIn: Double?)
        /// The claim failed (logged); try again at the next poll.
        case failed
    }

    /// Asks the flush loop to claim for the free slots, and waits for what it found.
    nonisolated func claim() async -> ClaimReport {
        await withCheckedContinuation { waiter in
            if inbox.requestClaim(waiter) { Task { await flush() } }
        }
    }

    /// Stops an attempt's steps (its task is cancelled; the step runners kill what they
    /// started). Returns false when this worker is not running it, or already stopping it.
    @discardableResult
    func cancel(_ attempt: RunAttempt) -> Bool {
        guard let task = running[attempt], !task.isCancelled else { return false }
        task.cancel()
        return true
    }

    /// Stops every attempt of a run this worker holds (the run was cancelled).
    func cancel(executionId: Int64) -> Bool {
        var stopped = false
        for attempt in running.keys where attempt.executionId == executionId { stopped = cancel(attempt) || stopped }
        return stopped
    }

    private func flush() async {
        while true {
            // Runs that started together tend to end together: let the ones already done
            // report (they are queued behind this task) so that they share this transaction.
            await Task.yield()
            guard let (batch, waiters, liveWanted) = inbox.takeAll() else { return }
            // After the batch was taken: attempts whose results are in it have left `live`,
            // and later results are written after this.
            if liveWanted { await writeLiveOutput() }
            // Only the live output was asked for: no claim, no result.
            if batch.isEmpty, waiters.isEmpty { continue }
            // Claim for the batch's own slots plus the free ones while the queue may hold more
            // due jobs (or a claim was asked for); once a claim came back short, the queue was
            // drained: write the results alone, in one statement.
            let free = settings.concurrency - running.count
            let claiming = !stopping.isSet && (queueMayHaveMore || !waiters.isEmpty)
            let limit = claiming ? free + batch.count : 0
            let report: ClaimReport
            if batch.isEmpty, limit == 0 {
                if claiming { (queueMayHaveMore, slotWanted) = (true, true) }
                report = .noFreeSlot
            } else if batch.isEmpty {
                report = await claimAlone(limit: limit)
            } else {
                let claimed = await store(batch, claimLimit: limit)
                refill(finished: batch.map(\.key), started: claimed)
                if limit > 0 { queueMayHaveMore = claimed.count >= limit }
                if claimed.count < limit || limit == 0, slotWanted, waiters.isEmpty {
                    slotWanted = false
                    wakeClaimLoop()
                }
                // This claim cannot tell when the next job comes due: one asking is told to ask
                // again, and its next claim, alone, can.
                report = limit > 0 ? .filled : .noFreeSlot
            }
            logger.trace("flushed", metadata: ["results": "\(batch.count)", "limit": "\(limit)"])
            for waiter in waiters { waiter.resume(returning: report) }
        }
    }

    /// Writes the live output that changed, in one statement; abandoned after 5 s (a result
    /// waits meanwhile). A failed write is taken again by the next flush.
    private func writeLiveOutput() async {
        guard let live else { return }
        let changes = live.takeChanges()
        guard !changes.isEmpty else { return }
        let queue = queue, workerID = settings.workerID
        do {
            let written = try await abandoning(after: .seconds(5)) { try await queue.writeLiveOutput(changes, workerID: workerID) }
            metrics?.liveOutputWritten(rows: written)
            liveWriteFailing = false
        } catch {
            live.untake(changes)
            if !liveWriteFailing, !Task.isCancelled {
                logger.warning("cannot write live output; trying again at the next flush", metadata: ["error": "\(String(reflecting: error))"])
            }
            liveWriteFailing = true
        }
    }

    /// A claim with no results to write: one attempt, abandoned after a lease period.
    private func claimAlone(limit: Int) async -> ClaimReport {
        let queue = queue, workerID = settings.workerID, leaseSeconds = settings.leaseSeconds
        do {
            let taken = try await abandoning(after: .seconds(leaseSeconds)) {
                try await queue.claim(workerID: workerID, limit: limit, leaseSeconds: leaseSeconds)
            }
            refill(finished: [], started: taken.runs)
            (queueMayHaveMore, slotWanted) = (taken.runs.count >= limit, false)
            return queueMayHaveMore ? .filled : .drained(nextDueIn: taken.nextDueIn)
        } catch {
            if !Task.isCancelled { logger.warning("cannot claim jobs", metadata: ["error": "\(String(reflecting: error))"]) }
            return .failed
        }
    }

    /// Frees the slots of `finished` runs and starts the `claimed` ones in them.
    private func refill(finished: [RunAttempt], started claimed: [ClaimedRun]) {
        for id in finished { running[id] = nil }
        // A run's result comes back through a later flush, so it is registered before it can end.
        for run in claimed {
            guard let launch else { break }
            running[run.key] = launch(run)
        }
        metrics?.setSlots(total: settings.concurrency, busy: running.count)
    }

    private func store(_ outcomes: [RunOutcome], claimLimit: Int) async -> [ClaimedRun] {
        switch await write(outcomes, claimLimit: claimLimit) {
        case .written(let claimed):
            return claimed
        case .refused(let reason) where outcomes.count == 1:
            await recordRefusal(of: outcomes[0], reason: reason)
            return []
        case .refused(let reason):
            // One result the database will not take must not cost the others theirs: write them
            // one at a time, and the refused one as failed, saying why.
            logger.warning("the database refused a batch of results; writing them one at a time", metadata: ["runs": "\(outcomes.count)", "error": "\(reason)"])
            for outcome in outcomes {
                if case .refused(let reason) = await write([outcome], claimLimit: 0) { await recordRefusal(of: outcome, reason: reason) }
            }
            return []
        }
    }

    /// Records a run whose result the database refused as failed, saying why.
    private func recordRefusal(of outcome: RunOutcome, reason: String) async {
        logger.error("the database refused a run's result; recording the run as failed", metadata: ["execution_id": "\(outcome.executionId)", "error": "\(reason)"])
        if case .refused(let again) = await write([outcome.refused(because: reason)], claimLimit: 0) {
            logger.error("cannot record even the refusal; leaving the run to lease rescue", metadata: ["execution_id": "\(outcome.executionId)", "error": "\(again)"])
        }
    }

    private enum Written {
        case written([ClaimedRun])
        /// PostgreSQL answered that it will not store these results: trying them again as they
        /// are cannot succeed.
        case refused(String)
    }

    private func write(_ outcomes: [RunOutcome], claimLimit: Int) async -> Written {
        let deadline = ContinuousClock.now + .seconds(settings.leaseSeconds)
        var pause = Duration.milliseconds(100)
        let queue = queue, workerID = settings.workerID, leaseSeconds = settings.leaseSeconds
        while true {
            do {
                // A write stuck on a dead connection is abandoned at the deadline; the results
                // it carried are then left to lease rescue, like any write that keeps failing.
                let remaining = max(.milliseconds(100), deadline - ContinuousClock.now)
                return .written(try await abandoning(after: remaining) {
                    try await queue.finish(outcomes, workerID: workerID, thenClaim: claimLimit, leaseSeconds: leaseSeconds).runs
                })
            } catch {
                if let refusal = QueueStore.refusal(in: error) { return .refused(refusal) }
                guard ContinuousClock.now + pause < deadline else {
                    // Nothing is lost: the leases run out and maintenance requeues these runs.
                    logger.error(
                        "cannot record run results; leaving them to lease rescue",
                        metadata: ["runs": "\(outcomes.count)", "error": "\(String(reflecting: error))"])
                    return .written([])
                }
                logger.warning(
                    "cannot record run results yet; retrying",
                    metadata: ["runs": "\(outcomes.count)", "error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}

/// The results runs have handed in and the claims asked for, and whether a flush is on its
/// way to take them.
private final class Inbox: Sendable {
    private struct State {
        var outcomes: [RunOutcome] = []
        var claimWaiters: [CheckedContinuation<RunDispatcher.ClaimReport, Never>] = []
        var liveOutputWanted = false
        var flushing = false

        mutating func startFlush() -> Bool {
            guard !flushing else { return false }
            flushing = true
            return true
        }
    }

    private let state = Mutex(State())

    /// Adds a result; true when no flush is running or about to run, and the caller must start one.
    func append(_ outcome: RunOutcome) -> Bool {
        state.withLock { state in
            state.outcomes.append(outcome)
            return state.startFlush()
        }
    }

    /// Adds a claim request; true when the caller must start a flush.
    func requestClaim(_ waiter: CheckedContinuation<RunDispatcher.ClaimReport, Never>) -> Bool {
        state.withLock { state in
            state.claimWaiters.append(waiter)
            return state.startFlush()
        }
    }

    /// Asks for a write of the live output; true when the caller must start a flush.
    func requestLiveOutput() -> Bool {
        state.withLock { state in
            state.liveOutputWanted = true
            return state.startFlush()
        }
    }

    /// Everything handed in so far; nil when there is nothing, and then the flush taking them
    /// has ended (the next result or request starts another).
    func takeAll() -> (
        outcomes: [RunOutcome], claimWaiters: [CheckedContinuation<RunDispatcher.ClaimReport, Never>], liveOutputWanted: Bool
    )? {
        state.withLock { state in
            guard !state.outcomes.isEmpty || !state.claimWaiters.isEmpty || state.liveOutputWanted else {
                state.flushing = false
                return nil
            }
            defer { (state.outcomes, state.claimWaiters, state.liveOutputWanted) = ([], [], false) }
            return (state.outcomes, state.claimWaiters, state.liveOutputWanted)
        }
    }
}
