import Foundation

/// One run of a workflow, whatever started it. Executions outlive their workflow and trigger,
/// so they keep the names those had.
public struct Execution: Sendable {
    public var id: Int64
    public var workflowId: Int64
    public var workflowName: String
    public var triggerId: Int64?
    public var triggerType: ExecutionTriggerType
    public var triggerName: String?
    public var status: ExecutionStatus
    public var scheduledFor: Date?
    /// A scheduled run created by a backfill, not by the cron ticker.
    public var backfill = false
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var attempt: Int
    public var workerId: String?
    /// The upstream run that started a dependency run: for a join, the one that completed it.
    public var upstreamExecutionId: Int64?
    /// A join's run: every upstream run that counted, in the order they did; nil for others.
    public var upstreamExecutionIds: [Int64]?
    public var error: String?
    public var steps: JSONValue
    /// The run's parameters (`RunParams`); nil when it has none.
    public var params: JSONValue? = nil
    /// The run this one repeats (`POST /api/executions/:id/rerun`).
    public var rerunOf: Int64? = nil

    /// Every upstream run behind this one: a join's, the one of a dependency run, or none.
    public var allUpstreamExecutionIds: [Int64] {
        upstreamExecutionIds ?? upstreamExecutionId.map { [$0] } ?? []
    }

    public var durationMilliseconds: Int64? {
        guard let startedAt, let finishedAt else { return nil }
        return Int64((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
    }
}

/// An execution as lists answer it: each step is its summary (no output), kept as the JSON text
/// PostgreSQL sent and written out as it is. A page of 200 runs of 20 steps is 700 KB of
/// summaries, which parsing into `JSONValue` only to write it again cost the API most of its
/// time per request.
public struct ExecutionListItem: Sendable {
    /// The run, its `steps` empty: `stepSummaries` stands for them.
    public var execution: Execution
    /// A JSON array, as `flowforge.step_summaries` computed it.
    public var stepSummaries: [UInt8]

    public init(execution: Execution, stepSummaries: [UInt8]) {
        self.execution = execution
        self.stepSummaries = stepSummaries
    }

}
