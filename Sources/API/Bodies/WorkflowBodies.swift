import FlowForgeShared
import Foundation

/// A workflow as the API answers it: the list entry (`WorkflowSummary` in openapi.yaml) and, for
/// one workflow, its triggers too (`WorkflowDetail`). Fields are written in key order, as the
/// API always has.
struct WorkflowBody: Encodable {
    let summary: WorkflowSummary
    /// nil in lists; a workflow's own answer carries its triggers.
    var triggers: [TriggerBody]?

    enum CodingKeys: String, CodingKey {
        case createdAt = "created_at", description, id, lastExecution = "last_execution"
        case maxAttempts = "max_attempts", maxConcurrentRuns = "max_concurrent_runs", name, nextRunAt = "next_run_at"
        case overlapPolicy = "overlap_policy", pausedAt = "paused_at", retryBackoffSeconds = "retry_backoff_seconds", steps
        case timeoutSeconds = "timeout_seconds", triggerCount = "trigger_count", triggers, updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        let workflow = summary.workflow
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(workflow.createdAt, forKey: .createdAt)
        try fields.encode(workflow.description, forKey: .description)
        try fields.encode(workflow.id, forKey: .id)
        try fields.encode(summary.lastExecution.map(ExecutionBriefBody.init), forKey: .lastExecution)
        try fields.encode(workflow.maxAttempts, forKey: .maxAttempts)
        try fields.encode(workflow.maxConcurrentRuns, forKey: .maxConcurrentRuns)
        try fields.encode(workflow.name, forKey: .name)
        try fields.encode(summary.nextRunAt, forKey: .nextRunAt)
        try fields.encode(workflow.overlapPolicy.rawValue, forKey: .overlapPolicy)
        try fields.encode(workflow.pausedAt, forKey: .pausedAt)
        try fields.encode(workflow.retryBackoffSeconds, forKey: .retryBackoffSeconds)
        try fields.encode(workflow.stepsJSON, forKey: .steps)
        try fields.encode(workflow.timeoutSeconds, forKey: .timeoutSeconds)
        try fields.encode(summary.triggerCount, forKey: .triggerCount)
        try fields.encodeIfPresent(triggers, forKey: .triggers)
        try fields.encode(workflow.updatedAt, forKey: .updatedAt)
    }
}

/// The newest execution next to a workflow in lists (`ExecutionBrief`).
struct ExecutionBriefBody: Encodable {
    let brief: ExecutionBrief

    enum CodingKeys: String, CodingKey {
        case finishedAt = "finished_at", id, queuedAt = "queued_at", startedAt = "started_at", status, triggerType = "trigger_type"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(brief.finishedAt, forKey: .finishedAt)
        try fields.encode(brief.id, forKey: .id)
        try fields.encode(brief.queuedAt, forKey: .queuedAt)
        try fields.encode(brief.startedAt, forKey: .startedAt)
        try fields.encode(brief.status.rawValue, forKey: .status)
        try fields.encode(brief.triggerType.rawValue, forKey: .triggerType)
    }
}

/// `GET /api/workflows` (`WorkflowList`): a page of workflows and where it sits in all of them.
struct WorkflowListBody: Encodable {
    let limit: Int64
    let offset: Int64
    let total: Int
    let workflows: [WorkflowBody]
}

/// A workflow named by id and name, as cycles and pickers show it (`WorkflowRef`).
struct WorkflowRefBody: Encodable {
    let id: Int64
    let name: String

    init(_ ref: WorkflowRef) {
        id = ref.id
        name = ref.name
    }
}

/// `GET /api/workflows/available-upstream` (`AvailableUpstreamList`): each workflow that could
/// be an upstream, and the cycle it would close.
struct AvailableUpstreamBody: Encodable {
    struct Candidate: Encodable {
        let ref: WorkflowRef
        let cycle: [WorkflowRef]?

        enum CodingKeys: String, CodingKey {
            case createsCycle = "creates_cycle", cycle, id, name
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: CodingKeys.self)
            try fields.encode(cycle != nil, forKey: .createsCycle)
            try fields.encode(cycle?.map(WorkflowRefBody.init), forKey: .cycle)
            try fields.encode(ref.id, forKey: .id)
            try fields.encode(ref.name, forKey: .name)
        }
    }

    let workflows: [Candidate]
}
