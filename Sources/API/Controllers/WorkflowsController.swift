import FlowForgeShared
import Hummingbird

/// `/api/workflows`: workflows, "Run now", and the upstream picker.
struct WorkflowsController {
    let stores: Stores

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get(use: list)
        group.post(use: create)
        group.get("available-upstream", use: availableUpstream)
        group.get(":id", use: get)
        group.put(":id", use: update)
        group.delete(":id", use: delete)
        group.post(":id/run", use: run)
        group.post(":id/pause") { request, context in try await setPaused(true, request, context) }
        group.post(":id/resume") { request, context in try await setPaused(false, request, context) }
    }

    /// Pause: no trigger of the workflow creates runs until it is resumed (Run now still does).
    /// Resume: its schedules go on, and what they missed meanwhile is judged by their misfire
    /// policy. Either is idempotent; the answer is the workflow.
    func setPaused(_ paused: Bool, _ request: Request, _ context: BasicRequestContext) async throws -> JSONBody<WorkflowBody> {
        let id = try request.id("id", context: context, label: "workflow id")
        return JSONBody(try await detail(try await stores.workflows.setPaused(paused, id: id)))
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<WorkflowListBody> {
        let limit = try request.queryInt("limit", in: 1...Int64(Limits.pageSize), default: 50)!
        let offset = try request.queryInt("offset", in: 0...1_000_000_000, default: 0)!
        let page = try await stores.workflows.list(limit: Int(limit), offset: Int(offset))
        return JSONBody(
            WorkflowListBody(limit: limit, offset: offset, total: page.total, workflows: page.items.map { WorkflowBody(summary: $0) }))
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<WorkflowBody> {
        var request = request
        let body = try await request.decodeBody(WorkflowCreate.self, context: context)
        var triggers: [TriggerDefinition] = []
        var secrets: [String] = []
        for var trigger in body.triggers.map(\.definition) {
            if let secret = try stores.sealSecret(for: &trigger) { secrets.append(secret) }
            triggers.append(trigger)
        }
        let summary = try await stores.workflows.create(body.definition, triggers: triggers, now: stores.clock())
        return JSONBody(.created, try await detail(summary, newSecrets: secrets))
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<WorkflowBody> {
        let id = try request.id("id", context: context, label: "workflow id")
        guard let summary = try await stores.workflows.summary(id: id) else { throw notFound(id) }
        return JSONBody(try await detail(summary))
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<WorkflowBody> {
        var request = request
        let id = try request.id("id", context: context, label: "workflow id")
        let body = try await request.jsonBody(context: context)
        guard let current = try await stores.workflows.get(id: id) else { throw notFound(id) }
        // Read after the workflow is found, so that a missing one is a 404 whatever the body.
        let changes = try JSONBodyDecoder().decode(WorkflowUpdate.self, from: body).changes
        var definition = try WorkflowDefinition(current)
        changes.apply(to: &definition)
        return JSONBody(try await detail(try await stores.workflows.update(id: id, with: definition)))
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try request.id("id", context: context, label: "workflow id")
        guard try await stores.workflows.delete(id: id) else { throw notFound(id) }
        return Response(status: .noContent)
    }

    /// Run now, with the parameters the body gives, if any.
    @Sendable func run(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<ExecutionBody> {
        var request = request
        let id = try request.id("id", context: context, label: "workflow id")
        let body = try await request.decodeOptionalBody(RunRequest.self, context: context, empty: RunRequest())
        return JSONBody(.created, ExecutionBody(try await stores.executions.createManual(workflowId: id, params: body.params)))
    }

    @Sendable func availableUpstream(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AvailableUpstreamBody> {
        let workflowId = try request.queryInt("workflow_id", in: 1...Int64.max)
        if let workflowId, try await stores.workflows.get(id: workflowId) == nil { throw notFound(workflowId) }
        let candidates = try await stores.workflows.availableUpstream(for: workflowId)
        return JSONBody(AvailableUpstreamBody(workflows: candidates.map { AvailableUpstreamBody.Candidate(ref: $0, cycle: $1) }))
    }

    /// The detail shape: the list entry plus its triggers. `newSecrets` are the secrets of a
    /// new workflow's webhook triggers, in the order they were created (which is id order).
    private func detail(_ summary: WorkflowSummary, newSecrets: [String] = []) async throws -> WorkflowBody {
        var secrets = newSecrets[...]
        var triggers = try await stores.triggers.list(workflowId: summary.workflow.id)
        for index in triggers.indices where triggers[index].webhookPath != nil {
            triggers[index].newSecret = secrets.popFirst()
        }
        return WorkflowBody(summary: summary, triggers: triggers.map { TriggerBody($0) })
    }

    private func notFound(_ id: Int64) -> APIError { APIError(.notFound, "workflow \(id) does not exist") }
}
