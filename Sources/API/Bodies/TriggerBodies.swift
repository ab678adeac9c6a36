import FlowForgeShared
import Foundation

/// A trigger as the API answers it (`Trigger`). Fields that do not apply to its type are null;
/// `secret` only in the answer that created or rotated it, `previous_secrets_expire_at` only
/// in the rotation's.
struct TriggerBody: Encodable {
    let trigger: Trigger
    var previousSecretsExpireAt: Date?

    init(_ trigger: Trigger, previousSecretsExpireAt: Date? = nil) {
        self.trigger = trigger
        self.previousSecretsExpireAt = previousSecretsExpireAt
    }

    enum CodingKeys: String, CodingKey {
        case activeFrom = "active_from", activeUntil = "active_until", dstPolicy = "dst_policy", jitterSeconds = "jitter_seconds"
        case createdAt = "created_at", cronExpression = "cron_expression", delayMinutes = "delay_minutes"
        case dependencyCondition = "dependency_condition", dependsOnWorkflowId = "depends_on_workflow_id"
        case dependsOnWorkflowIds = "depends_on_workflow_ids", dependsOnWorkflowName = "depends_on_workflow_name"
        case dependsOnWorkflows = "depends_on_workflows", description, enabled, eventConfig = "event_config"
        case eventType = "event_type", id, lastRunAt = "last_run_at", misfirePolicy = "misfire_policy", nextRunAt = "next_run_at"
        case params
        case previousSecretsExpireAt = "previous_secrets_expire_at", secret, timezone, triggerName = "trigger_name"
        case triggerType = "trigger_type", updatedAt = "updated_at", webhookPath = "webhook_path", workflowId = "workflow_id"
    }

    func encode(to encoder: any Encoder) throws {
        let scheduled = trigger.type == .scheduled
        let options = trigger.scheduleOptions
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(scheduled ? options.activeFrom : nil, forKey: .activeFrom)
        try fields.encode(scheduled ? options.activeUntil : nil, forKey: .activeUntil)
        try fields.encode(trigger.createdAt, forKey: .createdAt)
        try fields.encode(trigger.cronExpression, forKey: .cronExpression)
        try fields.encode(trigger.type == .dependency ? trigger.delayMinutes : nil, forKey: .delayMinutes)
        try fields.encode(trigger.dependencyCondition?.rawValue, forKey: .dependencyCondition)
        try fields.encode(trigger.dependsOnWorkflowId, forKey: .dependsOnWorkflowId)
        let dependency = trigger.type == .dependency
        try fields.encode(dependency ? trigger.upstreams.map(\.id) : nil, forKey: .dependsOnWorkflowIds)
        try fields.encode(trigger.dependsOnWorkflowName, forKey: .dependsOnWorkflowName)
        try fields.encode(dependency ? trigger.upstreams.map(WorkflowRefBody.init) : nil, forKey: .dependsOnWorkflows)
        try fields.encode(trigger.scheduleDescription, forKey: .description)
        try fields.encode(scheduled ? options.dstPolicy.map(DSTPolicyBody.init) : nil, forKey: .dstPolicy)
        try fields.encode(trigger.enabled, forKey: .enabled)
        try fields.encode(trigger.eventConfig, forKey: .eventConfig)
        try fields.encode(trigger.eventType?.rawValue, forKey: .eventType)
        try fields.encode(trigger.id, forKey: .id)
        try fields.encode(scheduled ? options.jitterSeconds : nil, forKey: .jitterSeconds)
        try fields.encode(trigger.lastRunAt, forKey: .lastRunAt)
        try fields.encode(scheduled ? trigger.misfirePolicy.rawValue : nil, forKey: .misfirePolicy)
        try fields.encode(trigger.nextRunAt, forKey: .nextRunAt)
        try fields.encode(trigger.params ?? .object([:]), forKey: .params)
        try fields.encodeIfPresent(previousSecretsExpireAt, forKey: .previousSecretsExpireAt)
        try fields.encodeIfPresent(trigger.newSecret, forKey: .secret)
        try fields.encode(scheduled ? trigger.timezone : nil, forKey: .timezone)
        try fields.encode(trigger.name, forKey: .triggerName)
        try fields.encode(trigger.type.rawValue, forKey: .triggerType)
        try fields.encode(trigger.updatedAt, forKey: .updatedAt)
        try fields.encode(trigger.webhookPath, forKey: .webhookPath)
        try fields.encode(trigger.workflowId, forKey: .workflowId)
    }
}

/// A scheduled trigger's `dst_policy` (`DSTPolicy`): a half that is null follows the rule by
/// hour restriction.
struct DSTPolicyBody: Encodable {
    let policy: DSTPolicy

    enum CodingKeys: String, CodingKey {
        case gap, overlap
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(policy.gap?.rawValue, forKey: .gap)
        try fields.encode(policy.overlap?.rawValue, forKey: .overlap)
    }
}

/// `GET /api/workflows/:id/triggers` (`TriggerList`).
struct TriggerListBody: Encodable {
    let triggers: [TriggerBody]
}

/// One dependency of a workflow, seen from it (`DependencyEntry`): the workflow at the other
/// end and the trigger that links them.
struct DependencyEntryBody: Encodable {
    // Stored in key order: the synthesized encoding writes them so.
    let condition: String
    let delayMinutes: Int
    let enabled: Bool
    let triggerId: Int64
    let triggerName: String
    let workflowId: Int64
    let workflowName: String

    enum CodingKeys: String, CodingKey {
        case condition, delayMinutes = "delay_minutes", enabled, triggerId = "trigger_id", triggerName = "trigger_name"
        case workflowId = "workflow_id", workflowName = "workflow_name"
    }

    init(edge: TriggerStore.DependencyEdge, other: WorkflowRef) {
        (condition, delayMinutes, enabled) = (edge.condition.rawValue, edge.delayMinutes, edge.enabled)
        (triggerId, triggerName, workflowId, workflowName) = (edge.triggerId, edge.triggerName, other.id, other.name)
    }
}

/// `GET /api/workflows/:id/triggers/dependencies` (`Dependencies`).
struct DependenciesBody: Encodable {
    let downstream: [DependencyEntryBody]
    let upstream: [DependencyEntryBody]

    /// The edges touching `workflowId`, each seen from it.
    init(edges: [TriggerStore.DependencyEdge], of workflowId: Int64) {
        downstream = edges.filter { $0.upstream.id == workflowId }.map { DependencyEntryBody(edge: $0, other: $0.downstream) }
        upstream = edges.filter { $0.downstream.id == workflowId }.map { DependencyEntryBody(edge: $0, other: $0.upstream) }
    }
}

/// `POST …/triggers/validate-dependency` (`ValidateDependencyResult`): `{"valid": true}`, or
/// the cycle the new upstream would close and its sentence.
struct ValidateDependencyBody: Encodable {
    let cycle: [WorkflowRef]?

    enum CodingKeys: String, CodingKey {
        case cycle, error, valid
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        if let cycle {
            try fields.encode(cycle.map(WorkflowRefBody.init), forKey: .cycle)
            try fields.encode(FlowForgeError.circularDependency(cycle: cycle).message, forKey: .error)
        }
        try fields.encode(cycle == nil, forKey: .valid)
    }
}
