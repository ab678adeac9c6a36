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
    /// When the workflow was paused; nil while it runs (`WorkflowStore.setPaused`).
    public var pausedAt: Date? = nil

    public var ref: WorkflowRef { WorkflowRef(id: id, name: name) }

    /// The steps, read from `stepsJSON`.
    public func steps() throws(FlowForgeError) -> [Step] {
        try Step.list(stored: stepsJSON)
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

}

/// The few fields of an execution that lists show next to a workflow.
public struct ExecutionBrief: Sendable {
    public var id: Int64
    public var status: ExecutionStatus
    public var triggerType: ExecutionTriggerType
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

}
