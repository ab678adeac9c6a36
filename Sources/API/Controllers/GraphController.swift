import FlowForgeShared
import Hummingbird

/// `GET /api/graph`: every workflow and dependency edge, for the graph view.
struct GraphController {
    let stores: Stores

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { _, _ in try await graph() }
    }

    func graph() async throws -> JSONBody<GraphBody> {
        let page = try await stores.workflows.list(limit: nil)
        let edges = try await stores.triggers.dependencyEdges()
        return JSONBody(GraphBody(edges: edges.map(GraphBody.Edge.init), nodes: page.items.map(GraphBody.Node.init)))
    }
}
