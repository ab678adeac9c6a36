import FlowForgeShared
import Foundation

/// `GET /api/schedule/preview` (`SchedulePreview`): the next runs of an expression in a zone.
struct SchedulePreviewBody: Encodable {
    struct Run: Encodable {
        let run: CronFire

        enum CodingKeys: String, CodingKey {
            case dstAdjusted = "dst_adjusted", local, utc
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: CodingKeys.self)
            try fields.encode(run.dstAdjusted, forKey: .dstAdjusted)
            try fields.encode(run.local, forKey: .local)
            try fields.encode(run.instant, forKey: .utc)
        }
    }

    let cron: String
    let description: String
    let nextRuns: [Run]
    /// The jitter, window and DST policy the times were computed with.
    let options: ScheduleOptions
    let timezone: String
    /// Whose jitter moved the times; nil: none did.
    let triggerId: Int64?

    init(cron: String, description: String, nextRuns: [Run], options: ScheduleOptions = ScheduleOptions(), timezone: String, triggerId: Int64? = nil) {
        (self.cron, self.description, self.nextRuns, self.options, self.timezone, self.triggerId) =
            (cron, description, nextRuns, options, timezone, triggerId)
    }

    enum CodingKeys: String, CodingKey {
        case activeFrom = "active_from", activeUntil = "active_until", cron, description, dstPolicy = "dst_policy"
        case jitterSeconds = "jitter_seconds", nextRuns = "next_runs", timezone, triggerId = "trigger_id"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(options.activeFrom, forKey: .activeFrom)
        try fields.encode(options.activeUntil, forKey: .activeUntil)
        try fields.encode(cron, forKey: .cron)
        try fields.encode(description, forKey: .description)
        try fields.encode(options.dstPolicy.map(DSTPolicyBody.init), forKey: .dstPolicy)
        try fields.encode(options.jitterSeconds, forKey: .jitterSeconds)
        try fields.encode(nextRuns, forKey: .nextRuns)
        try fields.encode(timezone, forKey: .timezone)
        try fields.encode(triggerId, forKey: .triggerId)
    }
}

/// `GET /api/graph` (`Graph`): every workflow and every dependency edge.
struct GraphBody: Encodable {
    struct Node: Encodable {
        let summary: WorkflowSummary

        enum CodingKeys: String, CodingKey {
            case id, lastStatus = "last_status", name, nextRunAt = "next_run_at", triggerCount = "trigger_count"
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: CodingKeys.self)
            try fields.encode(summary.workflow.id, forKey: .id)
            try fields.encode(summary.lastExecution?.status.rawValue, forKey: .lastStatus)
            try fields.encode(summary.workflow.name, forKey: .name)
            try fields.encode(summary.nextRunAt, forKey: .nextRunAt)
            try fields.encode(summary.triggerCount, forKey: .triggerCount)
        }
    }

    struct Edge: Encodable {
        let edge: TriggerStore.DependencyEdge

        enum CodingKeys: String, CodingKey {
            case condition, delayMinutes = "delay_minutes", enabled, from, to, triggerId = "trigger_id"
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: CodingKeys.self)
            try fields.encode(edge.condition.rawValue, forKey: .condition)
            try fields.encode(edge.delayMinutes, forKey: .delayMinutes)
            try fields.encode(edge.enabled, forKey: .enabled)
            try fields.encode(edge.upstream.id, forKey: .from)
            try fields.encode(edge.downstream.id, forKey: .to)
            try fields.encode(edge.triggerId, forKey: .triggerId)
        }
    }

    let edges: [Edge]
    let nodes: [Node]
}

/// `GET /healthz`: the process serves HTTP.
struct HealthBody: Encodable {
    let status = "ok"
}

/// `GET /readyz` (`Readiness`): whether the database answers.
struct ReadinessBody: Encodable {
    let database: String
    let status: String

    init(databaseReachable: Bool) {
        database = databaseReachable ? "ok" : "unreachable"
        status = databaseReachable ? "ready" : "not ready"
    }
}

/// Every 4xx and 5xx answer (`Error`): one sentence; a circular dependency adds its `cycle`.
struct ErrorBody: Encodable {
    let cycle: [WorkflowRef]?
    let error: String

    enum CodingKeys: String, CodingKey {
        case cycle, error
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encodeIfPresent(cycle?.map(WorkflowRefBody.init), forKey: .cycle)
        try fields.encode(error, forKey: .error)
    }
}
