import FlowForgeShared
import Hummingbird

/// `/api/executions`: what ran, is running or waits, newest first.
struct ExecutionsController {
    let stores: Stores

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get(use: list)
        group.get(":id", use: get)
        group.post(":id/cancel", use: cancel)
        group.post(":id/rerun", use: rerun)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<ExecutionListBody> {
        var filter = ExecutionStore.Filter()
        filter.workflowId = try request.queryInt("workflow_id", in: 1...Int64.max)
        filter.triggerId = try request.queryInt("trigger_id", in: 1...Int64.max)
        filter.status = try request.queryChoice("status", ExecutionStatus.self)
        filter.triggerType = try request.queryChoice("trigger_type", ExecutionTriggerType.self)
        filter.beforeId = try request.queryInt("before_id", in: 1...Int64.max)
        filter.limit = Int(try request.queryInt("limit", in: 1...Int64(Limits.pageSize), default: 50)!)
        let executions = try await stores.executions.list(filter)
        // A full page may have more behind it: the client passes next_before_id to continue.
        let nextBeforeId = executions.count == filter.limit ? executions.last?.execution.id : nil
        return JSONBody(
            ExecutionListBody(executions: executions.map(ExecutionBody.init), nextBeforeId: nextBeforeId),
            capacity: ExecutionListBody.expectedSize(executions))
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<ExecutionBody> {
        let id = try request.id("id", context: context, label: "execution id")
        guard let execution = try await stores.executions.get(id: id) else {
            throw APIError(.notFound, "execution \(id) does not exist")
        }
        guard execution.triggerType == .event else { return JSONBody(ExecutionBody(execution)) }
        let event = try await stores.events.eventSummary(executionId: id)
        return JSONBody(ExecutionBody(execution, event: .some(event.map(EventBody.init))))
    }

    /// A new manual run of the execution's workflow with its parameters, or those the body gives.
    @Sendable func rerun(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<ExecutionBody> {
        var request = request
        let id = try request.id("id", context: context, label: "execution id")
        let body = try await request.decodeOptionalBody(RunRequest.self, context: context, empty: RunRequest())
        let execution = try await stores.executions.rerun(id: id, replacingParams: body.paramsGiven, params: body.params)
        return JSONBody(.created, ExecutionBody(execution))
    }

    @Sendable func cancel(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<ExecutionBody> {
        let id = try request.id("id", context: context, label: "execution id")
        return JSONBody(ExecutionBody(try await stores.executions.cancel(id: id)))
    }
}
