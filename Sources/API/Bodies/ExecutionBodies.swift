import FlowForgeShared
import Foundation

/// An execution as the API answers it: one run with its step results (`Execution`), or a list
/// entry whose steps are their summaries, copied as PostgreSQL wrote them and placed after the
/// other fields, as lists always have (`ExecutionSummary`).
struct ExecutionBody: Encodable {
    let execution: Execution
    /// Set for a list entry: `flowforge.step_summaries`' JSON array, never parsed.
    var stepSummaries: RawJSON?
    /// For one event run: the event behind it (`.some(nil)` when its record is gone).
    var event: EventBody??

    init(_ execution: Execution, event: EventBody?? = nil) {
        self.execution = execution
        self.event = event
    }

    init(_ item: ExecutionListItem) {
        execution = item.execution
        stepSummaries = RawJSON(bytes: item.stepSummaries)
    }

    enum CodingKeys: String, CodingKey {
        case attempt, backfill, durationMilliseconds = "duration_ms", error, event, finishedAt = "finished_at", id, queuedAt = "queued_at"
        case params, rerunOf = "rerun_of"
        case scheduledFor = "scheduled_for", startedAt = "started_at", status, steps, triggerId = "trigger_id"
        case triggerName = "trigger_name", triggerType = "trigger_type", upstreamExecutionId = "upstream_execution_id"
        case upstreamExecutionIds = "upstream_execution_ids"
        case workerId = "worker_id", workflowId = "workflow_id", workflowName = "workflow_name"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(execution.attempt, forKey: .attempt)
        try fields.encode(execution.backfill, forKey: .backfill)
        try fields.encode(execution.durationMilliseconds, forKey: .durationMilliseconds)
        try fields.encode(execution.error, forKey: .error)
        if let event { try fields.encode(event, forKey: .event) }
        try fields.encode(execution.finishedAt, forKey: .finishedAt)
        try fields.encode(execution.id, forKey: .id)
        try fields.encode(execution.params ?? .object([:]), forKey: .params)
        try fields.encode(execution.queuedAt, forKey: .queuedAt)
        try fields.encode(execution.rerunOf, forKey: .rerunOf)
        try fields.encode(execution.scheduledFor, forKey: .scheduledFor)
        try fields.encode(execution.startedAt, forKey: .startedAt)
        try fields.encode(execution.status.rawValue, forKey: .status)
        if stepSummaries == nil { try fields.encode(execution.steps, forKey: .steps) }
        try fields.encode(execution.triggerId, forKey: .triggerId)
        try fields.encode(execution.triggerName, forKey: .triggerName)
        try fields.encode(execution.triggerType.rawValue, forKey: .triggerType)
        try fields.encode(execution.upstreamExecutionId, forKey: .upstreamExecutionId)
        try fields.encode(execution.allUpstreamExecutionIds, forKey: .upstreamExecutionIds)
        try fields.encode(execution.workerId, forKey: .workerId)
        try fields.encode(execution.workflowId, forKey: .workflowId)
        try fields.encode(execution.workflowName, forKey: .workflowName)
        if let stepSummaries { try fields.encode(stepSummaries, forKey: .steps) }
    }
}

/// The event behind an event run, on its `GET /api/executions/:id`: a webhook's JSON and size,
/// or an arrived file.
struct EventBody: Encodable {
    let event: ExecutionEvent

    enum CodingKeys: String, CodingKey {
        case file, fileModifiedAt = "file_modified_at", fileSize = "file_size", payload, payloadBytes = "payload_bytes"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        switch event {
        case .file(let path, let size, let modifiedAt):
            try fields.encode(path, forKey: .file)
            try fields.encode(modifiedAt, forKey: .fileModifiedAt)
            try fields.encode(size, forKey: .fileSize)
        case .payload(let json, let bytes):
            try fields.encode(json ?? .null, forKey: .payload)
            try fields.encode(bytes, forKey: .payloadBytes)
        }
    }
}

/// `GET /api/executions` (`ExecutionList`): newest first; `next_before_id` continues a full page.
struct ExecutionListBody: Encodable {
    let executions: [ExecutionBody]
    let nextBeforeId: Int64?

    enum CodingKeys: String, CodingKey {
        case executions, nextBeforeId = "next_before_id"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(executions, forKey: .executions)
        try fields.encode(nextBeforeId, forKey: .nextBeforeId)
    }

    /// What to reserve for the answer: the step summaries are most of it.
    static func expectedSize(_ items: [ExecutionListItem]) -> Int {
        items.reduce(64) { $0 + $1.stepSummaries.count + 640 }
    }
}

/// `GET …/triggers/:triggerId/history` (`TriggerHistory`): the runs a trigger started.
struct TriggerHistoryBody: Encodable {
    let executions: [ExecutionBody]
}

/// A webhook that was recorded and started no run (`WebhookHeld`): its filter held it back, or
/// its workflow is paused.
struct WebhookHeldBody: Encodable {
    /// Why no run started.
    enum Reason { case filtered, paused }

    let reason: Reason

    enum CodingKeys: String, CodingKey {
        case executionId = "execution_id", filtered, message, paused
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encodeNil(forKey: .executionId)
        try fields.encode(reason == .filtered, forKey: .filtered)
        switch reason {
        case .filtered: try fields.encode("the event was recorded and did not match the trigger's filter, so it started no run", forKey: .message)
        case .paused: try fields.encode("the event was recorded; the trigger's workflow is paused, so it started no run", forKey: .message)
        }
        try fields.encode(reason == .paused, forKey: .paused)
    }
}
