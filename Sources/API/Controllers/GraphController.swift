import FlowForgeShared
import Hummingbird

/// `GET /api/graph`: every workflow and dependency edge, for the graph view.
struct GraphController {
    let stores: Stores

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ in try await graph() }
    }

    func graph() async throws -> JSONValue {
        let page = try await stores.workflows.list(limit: nil)
        let edges = try await stores.triggers.dependencyEdges()
        return [
            "nodes": .array(
                page.items.map { summary in
                    [
                        "id": .int(summary.workflow.id), "name": .string(summary.workflow.name),
                        "trigger_count": .int(Int64(summary.triggerCount)), "next_run_at": JSONValue(summary.nextRunAt),
                        "last_status": JSONValue(summary.lastExecution?.status.rawValue),
                    ]
                }),
            "edges": .array(
                edges.map { edge in
                    [
                        "trigger_id": .int(edge.triggerId), "from": .int(edge.upstream.id), "to": .int(edge.downstream.id),
                        "condition": .string(edge.condition.rawValue), "delay_minutes": .int(Int64(edge.delayMinutes)),
                        "enabled": .bool(edge.enabled),
                    ]
                }),
        ]
    }
}
