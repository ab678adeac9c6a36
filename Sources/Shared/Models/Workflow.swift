import Foundation

/// A workflow as stored: an ordered list of steps and how its runs behave.
public struct Workflow: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var description: String
    /// The steps as stored: the JSON that `Step.json` wrote when they were validated, shown as
    /// it is (reading a page of workflows does not parse every step again).
    public var stepsJSON: JSONValue
    public var timeoutSeconds: Int
    public var maxAttempts: Int
    public var retryBackoffSeconds: Int
    public var maxConcurrentRuns: Int
    public var overlapPolicy: OverlapPolicy
    public var createdAt: Date
    public var updatedAt: Date

    public var ref: WorkflowRef { WorkflowRef(id: id, name: name) }

    /// The steps, read from `stepsJSON`.
    public func steps() throws(FlowForgeError) -> [Step] {
        try Step.list(stored: stepsJSON)
    }

    public var json: JSONValue {
        [
            "id": .int(id),
            "name": .string(name),
            "description": .string(description),
            "steps": stepsJSON,
            "timeout_seconds": .int(Int64(timeoutSeconds)),
            "max_attempts": .int(Int64(maxAttempts)),
            "retry_backoff_seconds": .int(Int64(retryBackoffSeconds)),
            "max_concurrent_runs": .int(Int64(maxConcurrentRuns)),
            "overlap_policy": .string(overlapPolicy.rawValue),
            "created_at": JSONValue(createdAt),
            "updated_at": JSONValue(updatedAt),
        ]
    }
}

/// The fields a user sets on a workflow, validated; what create and update write.
public struct WorkflowDefinition: Sendable, Equatable {
    public var name: String
    public var description: String = ""
    public var steps: [Step]
    public var timeoutSeconds: Int = 3600
    public var maxAttempts: Int = 1
    public var retryBackoffSeconds: Int = 30
    public var maxConcurrentRuns: Int = 1
    public var overlapPolicy: OverlapPolicy = .queue

    public init(name: String, steps: [Step]) {
        self.name = name
        self.steps = steps
    }

    public init(_ workflow: Workflow) throws(FlowForgeError) {
        name = workflow.name
        description = workflow.description
        steps = try workflow.steps()
        timeoutSeconds = workflow.timeoutSeconds
        maxAttempts = workflow.maxAttempts
        retryBackoffSeconds = workflow.retryBackoffSeconds
        maxConcurrentRuns = workflow.maxConcurrentRuns
        overlapPolicy = workflow.overlapPolicy
    }
}

/// A workflow with what the list and detail views show beside it, read in one query.
public struct WorkflowSummary: Sendable {
    public var workflow: Workflow
    public var triggerCount: Int
    /// The earliest `next_run_at` of its enabled scheduled triggers; nil means manual only.
    public var nextRunAt: Date?
    public var lastExecution: ExecutionBrief?

    public var json: JSONValue {
        guard case .object(var fields) = workflow.json else { return workflow.json }
        fields["trigger_count"] = .int(Int64(triggerCount))
        fields["next_run_at"] = JSONValue(nextRunAt)
        fields["last_execution"] = lastExecution?.json ?? .null
        return .object(fields)
    }
}

/// The few fields of an execution that lists show next to a workflow.
public struct ExecutionBrief: Sendable {
    public var id: Int64
    public var status: ExecutionStatus
    public var triggerType: ExecutionTriggerType
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public var json: JSONValue {
        [
            "id": .int(id),
            "status": .string(status.rawValue),
            "trigger_type": .string(triggerType.rawValue),
            "queued_at": JSONValue(queuedAt),
            "started_at": JSONValue(startedAt),
            "finished_at": JSONValue(finishedAt),
        ]
    }
}
