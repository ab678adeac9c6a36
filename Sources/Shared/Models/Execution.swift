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
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var attempt: Int
    public var workerId: String?
    public var upstreamExecutionId: Int64?
    public var error: String?
    public var steps: JSONValue

    public var json: JSONValue {
        [
            "id": .int(id),
            "workflow_id": .int(workflowId),
            "workflow_name": .string(workflowName),
            "trigger_id": JSONValue(triggerId),
            "trigger_type": .string(triggerType.rawValue),
            "trigger_name": JSONValue(triggerName),
            "status": .string(status.rawValue),
            "scheduled_for": JSONValue(scheduledFor),
            "queued_at": JSONValue(queuedAt),
            "started_at": JSONValue(startedAt),
            "finished_at": JSONValue(finishedAt),
            "duration_ms": JSONValue(durationMilliseconds),
            "attempt": .int(Int64(attempt)),
            "worker_id": JSONValue(workerId),
            "upstream_execution_id": JSONValue(upstreamExecutionId),
            "error": JSONValue(error),
            "steps": steps,
        ]
    }

    public var durationMilliseconds: Int64? {
        guard let startedAt, let finishedAt else { return nil }
        return Int64((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
    }
}
