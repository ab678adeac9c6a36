import FlowForgeShared
import Foundation
import Logging
import Synchronization

/// Writes run results in batches and refills the slots they free in the same transaction.
///
/// While one batch is being written, the results that arrive are collected and go together in
/// the next transaction (group commit): a single result is written at once, and under load one
/// transaction carries many. That transaction also claims as many new runs as there are free
/// slots, so a busy worker spends one commit per batch of runs, which is what lets one worker
/// process finish thousands of short runs a second.
///
/// A write that fails (the database restarting, a dropped connection) is retried until
/// `giveUpAfter`; past that the runs' leases have run out, lease rescue has requeued them,
/// and this worker's results would be refused anyway.
actor ResultWriter {
    private let queue: QueueStore
    private let workerID: String
    private let leaseSeconds: Int
    private let giveUpAfter: Duration
    private let running: RunningRuns
    private let stopping: AtomicFlag
    /// Wakes the worker's claim loop: slots this writer freed and could not refill are its to fill.
    private let wake: @Sendable () -> Void
    private let logger: Logger
    private var launch: (@Sendable (ClaimedRun) -> Task<Void, Never>)?
    /// Results handed in and not yet taken by a flush; shared with the runs' tasks.
    private let inbox = Inbox()

    init(
        queue: QueueStore, workerID: String, leaseSeconds: Int, giveUpAfter: Duration, running: RunningRuns, stopping: AtomicFlag,
        wake: @escaping @Sendable () -> Void, logger: Logger
    ) {
        self.queue = queue
        self.workerID = workerID
        self.leaseSeconds = leaseSeconds
        self.giveUpAfter = giveUpAfter
        self.running = running
        self.stopping = stopping
        self.wake = wake
        self.logger = logger
    }

    /// How a claimed run is started; set once, before the first run (it needs this writer).
    func setLauncher(_ launch: @escaping @Sendable (ClaimedRun) -> Task<Void, Never>) {
        self.launch = launch
    }

    /// Hands in a run's result and returns at once: the run's task ends here, and the run keeps
    /// its slot (and its lease is renewed) until the result is written. One flush at a time
    /// writes what has arrived: with two or three overlapping, batches only got smaller and
    /// throughput fell. (Waiting here for the write, as a suspended task per run, cost the
    /// worker a continuation and two more task switches per run.)
    nonisolated func submit(_ outcome: RunOutcome) {
        if inbox.append(outcome) { Task { await flush() } }
    }

    private func flush() async {
        while true {
            // Runs that started together tend to end together: let the ones already done
            // report (they are queued behind this task) so that they share this transaction.
            await Task.yield()
            guard let batch = inbox.takeAll() else { return }
            let finished = batch.map(\.key)
            // While the queue may hold more due jobs, claim for the batch's own slots plus any
            // free now (reserved, so the claim loop cannot take them too) in the same
            // transaction. Once a claim came back short, the queue was drained: write the
            // results alone, in one statement.
            let mayHaveMore = await running.queueMayHaveMore
            let claiming = !stopping.isSet && mayHaveMore
            let extra = claiming ? await running.reserve(upTo: Int.max) : 0
            let limit = claiming ? extra + batch.count : 0
            let claimed = await store(batch, claimLimit: limit)
            logger.trace("batch written", metadata: ["results": "\(batch.count)", "claimed": "\(claimed.count)", "limit": "\(limit)"])
            let started = claimed.compactMap { run in launch.map { (run.key, $0(run)) } }
            await running.complete(finished: finished, reserved: extra, started: started)
            await running.claimed(claimed.count, of: limit)
            // Slots freed and not refilled. A claim loop that found every slot taken (a
            // notification handled while these slots were busy) sleeps only until the next
            // poll: wake it, and it decides when to look again. An idle loop already sleeps
            // until the next job or notification, and is left alone.
            if claimed.count < limit || !claiming, await running.takeSlotWaiter() { wake() }
        }
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
        let deadline = ContinuousClock.now + giveUpAfter
        var pause = Duration.milliseconds(100)
        let queue = queue, workerID = workerID, leaseSeconds = leaseSeconds
        while true {
            do {
                // A write stuck on a dead connection is abandoned at the deadline; the results
                // it carried are then left to lease rescue, like any write that keeps failing.
                let remaining = max(.milliseconds(100), deadline - ContinuousClock.now)
                return .written(try await abandoning(after: remaining) {
                    try await queue.finish(outcomes, workerID: workerID, thenClaim: claimLimit, leaseSeconds: leaseSeconds)
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

/// The results runs have handed in, and whether a flush is on its way to take them.
private final class Inbox: Sendable {
    private struct State {
        var outcomes: [RunOutcome] = []
        var flushing = false
    }

    private let state = Mutex(State())

    /// Adds a result; true when no flush is running or about to run, and the caller must start one.
    func append(_ outcome: RunOutcome) -> Bool {
        state.withLock { state in
            state.outcomes.append(outcome)
            guard !state.flushing else { return false }
            state.flushing = true
            return true
        }
    }

    /// Every result handed in so far; nil when there is none, and then the flush taking them has
    /// ended (the next result starts another).
    func takeAll() -> [RunOutcome]? {
        state.withLock { state in
            guard !state.outcomes.isEmpty else {
                state.flushing = false
                return nil
            }
            defer { state.outcomes = [] }
            return state.outcomes
        }
    }
}
