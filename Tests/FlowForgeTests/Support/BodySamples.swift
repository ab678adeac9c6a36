@testable import FlowForgeAPI
@testable import FlowForgeShared
import Foundation

/// A representative value of every answer shape, for the contract tests: each with every
/// field it can have set, and the variants whose fields differ (trigger types, event kinds).
enum BodySamples {
    static let now = Date(timeIntervalSince1970: 1_768_471_200)
    static let later = now.addingTimeInterval(3.5)

    static let workflow = Workflow(
        id: 1, name: "load", description: "nightly", stepsJSON: .array(steps.map(\.json)), timeoutSeconds: 3600, maxAttempts: 1,
        retryBackoffSeconds: 30, maxConcurrentRuns: 1, overlapPolicy: .queue, createdAt: now, updatedAt: later)

    static let steps: [Step] = [
        Step(name: "extract", action: .shell(.init(command: ["python3", "x.py"], environment: ["A": "1"], workingDirectory: "/data", timeoutSeconds: 600))),
        Step(name: "notify", action: .http(.init(method: "POST", url: "http://127.0.0.1/x", headers: ["X": "y"], body: "{}", expectStatus: [200], timeoutSeconds: 30))),
        Step(name: "pause", action: .noop(sleepMilliseconds: 100)),
    ]

    static let summary = WorkflowSummary(
        workflow: workflow, triggerCount: 3, nextRunAt: later,
        lastExecution: ExecutionBrief(id: 7, status: .completed, triggerType: .manual, queuedAt: now, startedAt: now, finishedAt: later))

    static func trigger(_ type: TriggerType, secret: String? = nil) -> Trigger {
        Trigger(
            id: 3, workflowId: 1, type: type, enabled: true, name: "At 09:00", nameIsGenerated: true,
            cronExpression: type == .scheduled ? "0 9 * * *" : nil, timezone: "UTC", nextRunAt: type == .scheduled ? later : nil,
            lastRunAt: now, misfirePolicy: .runOnce, dependsOnWorkflowId: type == .dependency ? 2 : nil,
            dependsOnWorkflowName: type == .dependency ? "extract" : nil, dependencyCondition: type == .dependency ? .onSuccess : nil,
            delayMinutes: 5, eventType: type == .event ? .webhook : nil, eventConfig: type == .event ? ["filter": []] : nil,
            createdAt: now, updatedAt: later, newSecret: secret, params: type == .scheduled ? ["date": "2024-01-01"] : nil)
    }

    static let triggers = [trigger(.scheduled), trigger(.dependency), trigger(.event, secret: "whsec_" + String(repeating: "a", count: 64))]

    /// A scheduled trigger with every schedule option set.
    static let options = ScheduleOptions(jitterSeconds: 600, activeFrom: now, activeUntil: later, dstPolicy: DSTPolicy(gap: .skip))

    static var scheduledWithOptions: Trigger {
        var trigger = trigger(.scheduled)
        trigger.scheduleOptions = options
        return trigger
    }

    static let cycle = [WorkflowRef(id: 2, name: "b"), WorkflowRef(id: 1, name: "a"), WorkflowRef(id: 2, name: "b")]

    static let edge = TriggerStore.DependencyEdge(
        triggerId: 4, triggerName: "After a succeeds", upstream: WorkflowRef(id: 1, name: "a"), downstream: WorkflowRef(id: 2, name: "b"),
        condition: .onSuccess, delayMinutes: 0, enabled: true)

    static let execution = Execution(
        id: 9, workflowId: 1, workflowName: "load", triggerId: 3, triggerType: .event, triggerName: "Webhook", status: .failed,
        scheduledFor: now, queuedAt: now, startedAt: now, finishedAt: later, attempt: 1, workerId: "w1", upstreamExecutionId: nil,
        error: "step extract failed",
        steps: [["name": "extract", "status": "failed", "exit_code": 1, "started_at": "2026-01-15T10:00:00Z", "finished_at": nil, "output": "boom"]],
        params: ["date": "2024-01-01", "limit": 100], rerunOf: 8)

    static let listItem = ExecutionListItem(
        execution: execution,
        stepSummaries: Array(#"[{"name": "extract", "status": "failed", "exit_code": 1, "output_bytes": 4}]"#.utf8))

    /// Each answer's encoding and the schema it must fit, named for failure messages.
    static func answers(_ schemas: OpenAPISchemas) throws -> [(name: String, json: [UInt8], schema: YAMLNode?)] {
        func named(_ name: String, _ value: some Encodable) throws -> (String, [UInt8], YAMLNode?) {
            (name, try JSONBodyEncoder().encode(value), schemas.schema(name))
        }
        let detail = WorkflowBody(summary: summary, triggers: triggers.map { TriggerBody($0) })
        return [
            try named("WorkflowSummary", WorkflowBody(summary: summary)),
            try named("WorkflowSummary", WorkflowBody(summary: WorkflowSummary(workflow: workflow, triggerCount: 0))),
            try named("WorkflowDetail", detail),
            try named("WorkflowList", WorkflowListBody(limit: 50, offset: 0, total: 1, workflows: [WorkflowBody(summary: summary)])),
            try named("AvailableUpstreamList", AvailableUpstreamBody(workflows: [.init(ref: cycle[0], cycle: nil), .init(ref: cycle[0], cycle: cycle)])),
            try named("TriggerList", TriggerListBody(triggers: triggers.map { TriggerBody($0) })),
            try named("Dependencies", DependenciesBody(edges: [edge], of: 1)),
            try named("Dependencies", DependenciesBody(edges: [edge], of: 2)),
            try named("ValidateDependencyResult", ValidateDependencyBody(cycle: nil)),
            try named("ValidateDependencyResult", ValidateDependencyBody(cycle: cycle)),
            try named(
                "SchedulePreview",
                SchedulePreviewBody(
                    cron: "0 9 * * *", description: "At 09:00", nextRuns: [.init(run: CronFire(instant: now, local: "x", dstAdjusted: false))],
                    timezone: "UTC")),
            try named("Trigger", TriggerBody(scheduledWithOptions)),
            try named(
                "SchedulePreview",
                SchedulePreviewBody(
                    cron: "0 9 * * *", description: "At 09:00", nextRuns: [.init(run: CronFire(instant: now, local: "x", dstAdjusted: false))],
                    options: options, timezone: "UTC", triggerId: 3)),
            try named("Execution", ExecutionBody(execution)),
            try named("Execution", ExecutionBody(execution, event: .some(EventBody(event: .payload(json: ["a": 1], bytes: 7))))),
            try named("Execution", ExecutionBody(execution, event: .some(EventBody(event: .file(path: "/in/x.csv", size: 3, modifiedAt: now))))),
            try named("Execution", ExecutionBody(execution, event: .some(nil))),
            try named("ExecutionList", ExecutionListBody(executions: [ExecutionBody(listItem)], nextBeforeId: 9)),
            try named("TriggerHistory", TriggerHistoryBody(executions: [ExecutionBody(listItem)])),
            try named("Graph", GraphBody(edges: [.init(edge: edge)], nodes: [.init(summary: summary)])),
            try named("Readiness", ReadinessBody(databaseReachable: false)),
            try named("BackfillResult", BackfillBody(count: 2, created: 1, dryRun: false, existing: 1, times: [now, later])),
            try named("Error", ErrorBody(cycle: nil, error: "name is required")),
            try named("CircularDependencyError", ErrorBody(cycle: cycle, error: "circular dependency: b → a → b")),
            ("healthz", try JSONBodyEncoder().encode(HealthBody()), schemas.response("/healthz", "get", "200")),
            (
                "rotate-secret", try JSONBodyEncoder().encode(TriggerBody(triggers[2], previousSecretsExpireAt: later)),
                schemas.response("/api/workflows/{id}/triggers/{triggerId}/rotate-secret", "post", "200")
            ),
            ("webhook filtered", try JSONBodyEncoder().encode(WebhookHeldBody(reason: .filtered)), schemas.response("/api/hooks/{triggerId}", "post", "202")),
            ("webhook paused", try JSONBodyEncoder().encode(WebhookHeldBody(reason: .paused)), schemas.response("/api/hooks/{triggerId}", "post", "202")),
            ("webhook started", try JSONBodyEncoder().encode(ExecutionBody(execution)), schemas.response("/api/hooks/{triggerId}", "post", "202")),
        ] + (try alertAnswers(schemas))
    }

    /// Each request body type's fields and the schema that documents them.
    static func requests(_ schemas: OpenAPISchemas) -> [(name: String, fields: [String], schema: YAMLNode?)] {
        [
            ("WorkflowCreate", WorkflowCreate.fieldNames, schemas.schema("WorkflowCreate")),
            ("WorkflowUpdate", WorkflowUpdate.fieldNames, schemas.schema("WorkflowUpdate")),
            ("StepInput", Step.Field.allCases.map(\.rawValue), schemas.schema("StepInput")),
            ("TriggerCreate", TriggerCreate.fieldNames, schemas.schema("TriggerCreate")),
            ("TriggerUpdate", TriggerUpdate.fieldNames, schemas.schema("TriggerUpdate")),
            ("ValidateDependencyRequest", ValidateDependencyRequest.fieldNames, schemas.schema("ValidateDependencyRequest")),
            ("BackfillRequest", BackfillRequest.fieldNames, schemas.schema("BackfillRequest")),
            ("RunRequest", RunRequest.fieldNames, schemas.schema("RunRequest")),
            (
                "rotate-secret", RotateSecretRequest.fieldNames,
                schemas.requestBody("/api/workflows/{id}/triggers/{triggerId}/rotate-secret", "post")
            ),
        ] + alertRequests(schemas)
    }
}
