import FlowForgeShared
import Hummingbird

/// `/api/alert-rules`: which workflows' runs raise alerts, for which events, sent where.
struct AlertRulesController {
    let stores: Stores

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get(use: list)
        group.post(use: create)
        group.get(":id", use: get)
        group.put(":id", use: update)
        group.delete(":id", use: delete)
        group.patch(":id/enable") { request, context in try await setEnabled(true, request, context) }
        group.patch(":id/disable") { request, context in try await setEnabled(false, request, context) }
    }

    /// Every rule; with `?workflow_id=` the rules (enabled or not) that cover that workflow,
    /// those for all workflows included.
    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertRuleListBody> {
        let workflowId = try request.queryInt("workflow_id", in: 1...Int64.max)
        if let workflowId, try await stores.workflows.get(id: workflowId) == nil {
            throw APIError(.notFound, "workflow \(workflowId) does not exist")
        }
        return JSONBody(AlertRuleListBody(alertRules: try await stores.alerts.rules(covering: workflowId).map(AlertRuleBody.init)))
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertRuleBody> {
        var request = request
        let definition = try await request.decodeBody(AlertRuleCreate.self, context: context).definition
        return JSONBody(.created, AlertRuleBody(try await stores.alerts.createRule(definition)))
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertRuleBody> {
        let id = try ruleId(request, context)
        guard let rule = try await stores.alerts.rule(id: id) else { throw notFound(id) }
        return JSONBody(AlertRuleBody(rule))
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertRuleBody> {
        var request = request
        let id = try ruleId(request, context)
        let body = try await request.jsonBody(context: context)
        let rule = try await stores.alerts.updateRule(id: id) { current in
            try JSONBodyDecoder(userInfo: [.editedAlertRule: current]).decode(AlertRuleUpdate.self, from: body).definition
        }
        return JSONBody(AlertRuleBody(rule))
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try ruleId(request, context)
        guard try await stores.alerts.deleteRule(id: id) else { throw notFound(id) }
        return Response(status: .noContent)
    }

    func setEnabled(_ enabled: Bool, _ request: Request, _ context: BasicRequestContext) async throws -> JSONBody<AlertRuleBody> {
        let id = try ruleId(request, context)
        return JSONBody(AlertRuleBody(try await stores.alerts.setRuleEnabled(enabled, id: id)))
    }

    private func ruleId(_ request: Request, _ context: BasicRequestContext) throws -> Int64 {
        try request.id("id", context: context, label: "alert rule id")
    }

    private func notFound(_ id: Int64) -> APIError { APIError(.notFound, "alert rule \(id) does not exist") }
}
