import PostgresNIO

/// Calls `body` once `delay` has passed, unless cancelled first; a cancelled alarm is gone at
/// once. `body` runs on an event loop thread and must be quick (resume a continuation, cancel
/// a task).
///
/// Deadlines that are set and called off thousands of times a second use this, not a task
/// that sleeps: Swift's `Task.sleep`, cancelled, returns at once but keeps its wake-up job
/// (a task and a dispatch timer) until the original deadline. A worker draining one run at a
/// time arms two 30 s deadlines per run (the claim's, the result write's), and in `bench
/// throughput --concurrency 1` its memory grew by 14 MiB every 8 s with sleeping tasks and by
/// 11 MiB with alarms. The rest is postgres-nio's pool, which arms a 60 s idle timer and a 30 s
/// keep-alive timer, both sleeping tasks, each time it takes a connection back (see
/// PostgresWorkarounds.swift for why it keeps no connections open). An event loop drops a
/// cancelled scheduled task at once.
public struct Alarm: Sendable {
    private let scheduled: Scheduled<Void>

    public init(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
        scheduled = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: TimeAmount(delay), body)
    }

    public func cancel() {
        scheduled.cancel()
    }
}
