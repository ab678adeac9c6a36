import FlowForgeShared
import Hummingbird

/// `/api/workflows/:id/triggers`: a workflow's triggers, their history and dependency checks.
struct TriggersController {
    let stores: Stores

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get(use: list)
        group.post(use: create)
        group.get("schedule/preview", use: preview)
        group.get("dependencies", use: dependencies)
        group.post("validate-dependency", use: validateDependency)
        group.get(":triggerId", use: get)
        group.put(":triggerId", use: update)
        group.delete(":triggerId", use: delete)
        group.patch(":triggerId/enable") { request, context in try await setEnabled(true, request, context) }
        group.patch(":triggerId/disable") { request, context in try await setEnabled(false, request, context) }
        group.get(":triggerId/history", use: history)
        group.post(":triggerId/rotate-secret", use: rotateSecret)
        group.post(":triggerId/backfill", use: backfill)
    }

    /// The runs a scheduled trigger's schedule would have created in `[from, to)`, in its zone,
    /// by its daylight-saving rules, moved by its jitter and within its active window (its
    /// `TriggerSchedule`); with `?dry_run=true` only counted. Times that already have a run are
    /// skipped, so the call can be repeated.
    @Sendable func backfill(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<BackfillBody> {
        var request = request
        let (workflowId, triggerId) = try ids(request, context)
        let dryRun = try request.queryBool("dry_run") ?? false
        let range = try await request.decodeBody(BackfillRequest.self, context: context)
        guard let trigger = try await stores.triggers.get(workflowId: workflowId, triggerId: triggerId) else {
            throw notFound(workflowId, triggerId)
        }
        guard let schedule = TriggerDefinition(trigger).schedule(triggerId: trigger.id) else {
            throw APIError(.badRequest, "trigger \(triggerId) is a \(trigger.type.rawValue) trigger: only a scheduled trigger has times to backfill")
        }
        guard range.to <= stores.clock() else {
            throw APIError(.badRequest, "to must not be in the future: a backfill creates the runs of times that have passed")
        }
        let limit = Limits.maxBackfillRuns
        guard let fires = schedule.fires(from: range.from, to: range.to, limit: limit) else {
            throw APIError(.badRequest, "the range holds more than \(limit) times of this schedule; backfill at most \(limit) runs per call")
        }
        let times = fires.map(\.instant)
        let created = dryRun ? 0 : try await stores.executions.backfill(triggerId: triggerId, times: times)
        let existing = dryRun ? try await stores.executions.scheduledRunCount(triggerId: triggerId, at: times) : times.count - created
        return JSONBody(
            BackfillBody(
                count: times.count, created: created, dryRun: dryRun, existing: existing,
                times: Array(times.prefix(BackfillBody.listedTimes))))
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<TriggerListBody> {
        let workflowId = try await existingWorkflow(request, context)
        return JSONBody(TriggerListBody(triggers: try await stores.triggers.list(workflowId: workflowId).map { TriggerBody($0) }))
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<TriggerBody> {
        var request = request
        let workflowId = try await existingWorkflow(request, context)
        var definition = try await request.decodeBody(TriggerCreate.self, context: context).definition
        let secret = try stores.sealSecret(for: &definition)
        var trigger = try await stores.triggers.create(definition, workflowId: workflowId, now: stores.clock())
        trigger.newSecret = secret
        return JSONBody(.created, TriggerBody(trigger))
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<TriggerBody> {
        let (workflowId, triggerId) = try ids(request, context)
        guard let trigger = try await stores.triggers.get(workflowId: workflowId, triggerId: triggerId) else {
            throw notFound(workflowId, triggerId)
        }
        return JSONBody(TriggerBody(trigger))
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<TriggerBody> {
        var request = request
        let (workflowId, triggerId) = try ids(request, context)
        let body = try await request.jsonBody(context: context)
        let trigger = try await stores.triggers.update(workflowId: workflowId, triggerId: triggerId, now: stores.clock()) { current in
            try JSONBodyDecoder(userInfo: [.editedTrigger: current]).decode(TriggerUpdate.self, from: body).definition
        }
        return JSONBody(TriggerBody(trigger))
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (workflowId, triggerId) = try ids(request, context)
        guard try await stores.triggers.delete(workflowId: workflowId, triggerId: triggerId) else {
            throw notFound(workflowId, triggerId)
        }
        return Response(status: .noContent)
    }

    func setEnabled(_ enabled: Bool, _ request: Request, _ context: BasicRequestContext) async throws -> JSONBody<TriggerBody> {
        let (workflowId, triggerId) = try ids(request, context)
        return JSONBody(TriggerBody(try await stores.triggers.setEnabled(enabled, workflowId: workflowId, triggerId: triggerId, now: stores.clock())))
    }

    @Sendable func history(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<TriggerHistoryBody> {
        let (workflowId, triggerId) = try ids(request, context)
        var filter = ExecutionStore.Filter()
        filter.limit = Int(try request.queryInt("limit", in: 1...100, default: 10)!)
        guard try await stores.triggers.get(workflowId: workflowId, triggerId: triggerId) != nil else {
            throw notFound(workflowId, triggerId)
        }
        filter.triggerId = triggerId
        filter.workflowId = workflowId
        let executions = try await stores.executions.list(filter)
        return JSONBody(
            TriggerHistoryBody(executions: executions.map(ExecutionBody.init)), capacity: ExecutionListBody.expectedSize(executions))
    }

    /// A new secret for a webhook trigger; the old ones keep working for `grace_seconds`
    /// (default a day), so senders can switch without losing events.
    @Sendable func rotateSecret(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<TriggerBody> {
        var request = request
        let (workflowId, triggerId) = try ids(request, context)
        var body = RotateSecretRequest()
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false || request.headers[.transferEncoding] != nil {
            body = try await request.decodeBody(RotateSecretRequest.self, context: context)
        }
        let (secret, sealed) = try stores.requireSecretBox().newSecret()
        var (trigger, expires) = try await stores.triggers.rotateSecret(
            workflowId: workflowId, triggerId: triggerId, sealed: sealed, graceSeconds: body.graceSeconds)
        trigger.newSecret = secret
        return JSONBody(TriggerBody(trigger, previousSecretsExpireAt: expires))
    }

    /// `GET /api/schedule/preview`, but with `trigger_id` the trigger must be one of this
    /// workflow's schedules, and its own settings stand in for the parameters not given: its
    /// preview is then exactly the times its runs get.
    @Sendable func preview(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<SchedulePreviewBody> {
        let workflowId = try await existingWorkflow(request, context)
        var stored: Trigger?
        if let triggerId = try request.queryInt("trigger_id", in: 1...Int64.max) {
            guard let trigger = try await stores.triggers.get(workflowId: workflowId, triggerId: triggerId) else {
                throw notFound(workflowId, triggerId)
            }
            guard trigger.type == .scheduled else {
                throw APIError(
                    .badRequest, "query parameter trigger_id: trigger \(triggerId) is a \(trigger.type.rawValue) trigger, not a scheduled one")
            }
            stored = trigger
        }
        return JSONBody(try ScheduleController.preview(request, now: stores.clock(), stored: stored))
    }

    @Sendable func dependencies(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<DependenciesBody> {
        let workflowId = try await existingWorkflow(request, context)
        return JSONBody(DependenciesBody(edges: try await stores.triggers.dependencyEdges(touching: workflowId), of: workflowId))
    }

    @Sendable func validateDependency(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<ValidateDependencyBody> {
        var request = request
        let workflowId = try await existingWorkflow(request, context)
        let upstream = try await request.decodeBody(ValidateDependencyRequest.self, context: context).dependsOnWorkflowId
        guard try await stores.workflows.get(id: upstream) != nil else {
            throw APIError(.badRequest, "depends_on_workflow_id: workflow \(upstream) does not exist")
        }
        return JSONBody(ValidateDependencyBody(cycle: try await stores.triggers.cycle(adding: upstream, to: workflowId)))
    }

    private func ids(_ request: Request, _ context: BasicRequestContext) throws -> (Int64, Int64) {
        (
            try request.id("id", context: context, label: "workflow id"),
            try request.id("triggerId", context: context, label: "trigger id")
        )
    }

    private func existingWorkflow(_ request: Request, _ context: BasicRequestContext) async throws -> Int64 {
        let workflowId = try request.id("id", context: context, label: "workflow id")
        guard try await stores.workflows.get(id: workflowId) != nil else {
            throw APIError(.notFound, "workflow \(workflowId) does not exist")
        }
        return workflowId
    }

    private func notFound(_ workflowId: Int64, _ triggerId: Int64) -> APIError {
        APIError(.notFound, "trigger \(triggerId) of workflow \(workflowId) does not exist")
    }
}
