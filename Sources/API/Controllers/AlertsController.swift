import FlowForgeShared
import Hummingbird

/// `/api/alerts`: the alerts rules raised, newest first, and where each was delivered.
struct AlertsController {
    let stores: Stores

    /// The `outcome` filter: alerts with a delivery in that state (`pending` includes `sending`).
    enum Outcome: String, CaseIterable {
        case pending, delivered, failed

        var statuses: [AlertDeliveryStatus] {
            switch self {
            case .pending: [.pending, .sending]
            case .delivered: [.delivered]
            case .failed: [.failed]
            }
        }
    }

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get(use: list)
        group.get(":id", use: get)
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertListBody> {
        var filter = AlertStore.HistoryFilter()
        filter.ruleId = try request.queryInt("rule_id", in: 1...Int64.max)
        filter.workflowId = try request.queryInt("workflow_id", in: 1...Int64.max)
        filter.channelId = try request.queryInt("channel_id", in: 1...Int64.max)
        filter.deliveryStatuses = try request.queryChoice("outcome", Outcome.self)?.statuses
        filter.beforeId = try request.queryInt("before_id", in: 1...Int64.max)
        filter.limit = Int(try request.queryInt("limit", in: 1...Int64(Limits.pageSize), default: 50)!)
        let alerts = try await stores.alerts.alerts(filter)
        // A full page may have more behind it: the client passes next_before_id to continue.
        let nextBeforeId = alerts.count == filter.limit ? alerts.last?.id : nil
        return JSONBody(AlertListBody(alerts: alerts.map(AlertBody.init), nextBeforeId: nextBeforeId), capacity: 1_024 * max(alerts.count, 1))
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertBody> {
        let id = try request.id("id", context: context, label: "alert id")
        guard let alert = try await stores.alerts.alert(id: id) else { throw APIError(.notFound, "alert \(id) does not exist") }
        return JSONBody(AlertBody(alert))
    }
}
