import PostgresNIO

/// Calls `body` once `delay` has passed, unless cancelled first; a cancelled alarm is gone at
/// once. `body` runs on an event loop thread and must be quick (resume a continuation, cancel
/// a task).
///
/// Deadlines that are set and called off thousands of times a second use this, not a task
/// that sleeps: Swift's `Task.sleep`, cancelled, returns at once but keeps its wake-up job
/// until the original deadline. A worker draining one run at a time arms two 30 s deadlines
/// per run (the claim's, the result write's), so some 50,000 of those jobs were alive at once:
/// its memory grew by about 60 MiB in the first 40 s of a drain (`bench throughput
/// --concurrency 1`). An event loop removes a cancelled scheduled task from its queue.
public struct Alarm: Sendable {
    private let scheduled: Scheduled<Void>

    public init(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        scheduled = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: TimeAmount(delay), body)
    }

    public func cancel() {
        scheduled.cancel()
    }
}
