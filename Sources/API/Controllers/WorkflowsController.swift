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
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        let limit = try request.queryInt("limit", in: 1...Int64(Limits.pageSize), default: 50)!
        let offset = try request.queryInt("offset", in: 0...1_000_000_000, default: 0)!
        let page = try await stores.workflows.list(limit: Int(limit), offset: Int(offset))
        return [
            "workflows": .array(page.items.map(\.json)),
            "total": .int(Int64(page.total)),
            "limit": .int(limit),
            "offset": .int(offset),
        ]
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let body = try await request.jsonBody(context: context)
        let (definition, triggerBodies) = try WorkflowInput.create(body)
        var triggers: [TriggerDefinition] = []
        var secrets: [String] = []
        for (index, triggerBody) in triggerBodies.enumerated() {
            var trigger = try TriggerInput.create(triggerBody, path: "triggers[\(index)].")
            if let secret = try stores.sealSecret(for: &trigger) { secrets.append(secret) }
            triggers.append(trigger)
        }
        let summary = try await stores.workflows.create(definition, triggers: triggers, now: stores.clock())
        return try await detail(summary, newSecrets: secrets).response(status: .created)
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        let id = try request.id("id", context: context, label: "workflow id")
        guard let summary = try await stores.workflows.summary(id: id) else { throw notFound(id) }
        return try await detail(summary)
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        var request = request
        let id = try request.id("id", context: context, label: "workflow id")
        let body = try await request.jsonBody(context: context)
        guard let current = try await stores.workflows.get(id: id) else { throw notFound(id) }
        let definition = try WorkflowInput.update(body, of: current)
        return try await detail(try await stores.workflows.update(id: id, with: definition))
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try request.id("id", context: context, label: "workflow id")
        guard try await stores.workflows.delete(id: id) else { throw notFound(id) }
        return Response(status: .noContent)
    }

    @Sendable func run(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try request.id("id", context: context, label: "workflow id")
        let execution = try await stores.executions.createManual(workflowId: id)
        return execution.json.response(status: .created)
    }

    @Sendable func availableUpstream(_ request: Request, context: BasicRequestContext) async throws -> JSONValue {
        let workflowId = try request.queryInt("workflow_id", in: 1...Int64.max)
        if let workflowId, try await stores.workflows.get(id: workflowId) == nil { throw notFound(workflowId) }
        let candidates = try await stores.workflows.availableUpstream(for: workflowId)
        return [
            "workflows": .array(
                candidates.map { ref, cycle in
                    [
                        "id": .int(ref.id), "name": .string(ref.name), "creates_cycle": .bool(cycle != nil),
                        "cycle": cycle.map { .array($0.map(\.json)) } ?? .null,
                    ]
                })
        ]
    }

    /// The detail shape: the list entry plus its triggers. `newSecrets` are the secrets of a
    /// new workflow's webhook triggers, in the order they were created (which is id order).
    private func detail(_ summary: WorkflowSummary, newSecrets: [String] = []) async throws -> JSONValue {
        guard case .object(var fields) = summary.json else { return summary.json }
        var secrets = newSecrets[...]
        var triggers = try await stores.triggers.list(workflowId: summary.workflow.id)
        for index in triggers.indices where triggers[index].webhookPath != nil {
            triggers[index].newSecret = secrets.popFirst()
        }
        fields["triggers"] = .array(triggers.map(\.json))
        return .object(fields)
    }

    private func notFound(_ id: Int64) -> APIError { APIError(.notFound, "workflow \(id) does not exist") }
}
