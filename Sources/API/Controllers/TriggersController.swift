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
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        let workflowId = try await existingWorkflow(request, context)
        return ["triggers": .array(try await stores.triggers.list(workflowId: workflowId).map(\.json))]
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let workflowId = try await existingWorkflow(request, context)
        let body = try await request.jsonBody(context: context)
        var definition = try TriggerInput.create(body)
        let secret = try stores.sealSecret(for: &definition)
        var trigger = try await stores.triggers.create(definition, workflowId: workflowId, now: stores.clock())
        trigger.newSecret = secret
        return trigger.json.response(status: .created)
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        let (workflowId, triggerId) = try ids(request, context)
        guard let trigger = try await stores.triggers.get(workflowId: workflowId, triggerId: triggerId) else {
            throw notFound(workflowId, triggerId)
        }
        return trigger.json
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        var request = request
        let (workflowId, triggerId) = try ids(request, context)
        let body = try await request.jsonBody(context: context)
        return try await stores.triggers.update(workflowId: workflowId, triggerId: triggerId, now: stores.clock()) { current in
            try TriggerInput.update(body, of: current)
        }.json
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (workflowId, triggerId) = try ids(request, context)
        guard try await stores.triggers.delete(workflowId: workflowId, triggerId: triggerId) else {
            throw notFound(workflowId, triggerId)
        }
        return Response(status: .noContent)
    }

    func setEnabled(_ enabled: Bool, _ request: Request, _ context: BasicRequestContext) async throws -> JSONValue {
        let (workflowId, triggerId) = try ids(request, context)
        return try await stores.triggers.setEnabled(enabled, workflowId: workflowId, triggerId: triggerId, now: stores.clock()).json
    }

    @Sendable func history(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let (workflowId, triggerId) = try ids(request, context)
        var filter = ExecutionStore.Filter()
        filter.limit = Int(try request.queryInt("limit", in: 1...100, default: 10)!)
        guard try await stores.triggers.get(workflowId: workflowId, triggerId: triggerId) != nil else {
            throw notFound(workflowId, triggerId)
        }
        filter.triggerId = triggerId
        filter.workflowId = workflowId
        return jsonResponse(ExecutionListItem.page(try await stores.executions.list(filter)))
    }

    /// A new secret for a webhook trigger; the old ones keep working for `grace_seconds`
    /// (default a day), so senders can switch without losing events.
    @Sendable func rotateSecret(_ request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let (workflowId, triggerId) = try ids(request, context)
        var graceSeconds = 86_400
        if request.headers[.contentLength].map({ $0 != "0" }) ?? false || request.headers[.transferEncoding] != nil {
            var reader = try FieldReader(try await request.jsonBody(context: context))
            if let grace = try reader.int("grace_seconds", in: 0...604_800) { graceSeconds = grace }
            try reader.finish()
        }
        let (secret, sealed) = try stores.requireSecretBox().newSecret()
        var (trigger, expires) = try await stores.triggers.rotateSecret(
            workflowId: workflowId, triggerId: triggerId, sealed: sealed, graceSeconds: graceSeconds)
        trigger.newSecret = secret
        guard case .object(var fields) = trigger.json else { return trigger.json.response() }
        fields["previous_secrets_expire_at"] = JSONValue(expires)
        return JSONValue.object(fields).response()
    }

    @Sendable func preview(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        _ = try await existingWorkflow(request, context)
        return try ScheduleController.preview(request, now: stores.clock())
    }

    @Sendable func dependencies(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        let workflowId = try await existingWorkflow(request, context)
        let edges = try await stores.triggers.dependencyEdges(touching: workflowId)
        func entry(_ edge: TriggerStore.DependencyEdge, other: WorkflowRef) -> JSONValue {
            [
                "workflow_id": .int(other.id), "workflow_name": .string(other.name), "trigger_id": .int(edge.triggerId),
                "trigger_name": .string(edge.triggerName), "condition": .string(edge.condition.rawValue),
                "delay_minutes": .int(Int64(edge.delayMinutes)), "enabled": .bool(edge.enabled),
            ]
        }
        return [
            "upstream": .array(edges.filter { $0.downstream.id == workflowId }.map { entry($0, other: $0.upstream) }),
            "downstream": .array(edges.filter { $0.upstream.id == workflowId }.map { entry($0, other: $0.downstream) }),
        ]
    }

    @Sendable func validateDependency(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        var request = request
        let workflowId = try await existingWorkflow(request, context)
        var reader = try FieldReader(try await request.jsonBody(context: context))
        guard let upstream = try reader.int("depends_on_workflow_id", in: 1...Int64.max) else {
            throw APIError(.badRequest, "depends_on_workflow_id is required")
        }
        try reader.finish()
        guard try await stores.workflows.get(id: upstream) != nil else {
            throw APIError(.badRequest, "depends_on_workflow_id: workflow \(upstream) does not exist")
        }
        guard let cycle = try await stores.triggers.cycle(adding: upstream, to: workflowId) else { return ["valid": true] }
        return [
            "valid": false,
            "error": .string(FlowForgeError.circularDependency(cycle: cycle).message),
            "cycle": .array(cycle.map(\.json)),
        ]
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
