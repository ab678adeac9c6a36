/// The workflows' dependency edges: `upstream → downstream` means a finished upstream run may
/// start the downstream workflow.
public struct DependencyGraph: Sendable {
    private var downstream: [Int64: [Int64]] = [:]

    public init<S: Sequence>(edges: S) where S.Element == (upstream: Int64, downstream: Int64) {
        for edge in edges { downstream[edge.upstream, default: []].append(edge.downstream) }
        for key in downstream.keys { downstream[key]!.sort() }
    }

    /// The shortest path `from → … → to` along existing edges, both ends included; nil if none.
    public func path(from start: Int64, to goal: Int64) -> [Int64]? {
        if start == goal { return [start] }
        var cameFrom: [Int64: Int64] = [start: start]
        var frontier = [start]
        while !frontier.isEmpty {
            var next: [Int64] = []
            for node in frontier {
                for child in downstream[node] ?? [] where cameFrom[child] == nil {
                    cameFrom[child] = node
                    if child == goal {
                        var path = [goal]
                        var current = goal
                        while current != start {
                            current = cameFrom[current]!
                            path.append(current)
                        }
                        return path.reversed()
                    }
                    next.append(child)
                }
            }
            frontier = next
        }
        return nil
    }

    /// The cycle that the edge `upstream → workflow` would close, as the ids of the workflows
    /// from the new upstream, through `workflow`, back to the upstream; nil when it closes none.
    public func cycle(adding upstream: Int64, to workflow: Int64) -> [Int64]? {
        guard let back = path(from: workflow, to: upstream) else { return nil }
        return [upstream] + back
    }
}
