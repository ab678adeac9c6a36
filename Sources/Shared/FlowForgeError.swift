/// The one error type of the shared layer. The HTTP edge turns it into `{"error": …}` once.
public enum FlowForgeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bad input: one sentence naming the field (answered as 400).
    case invalid(String)
    /// Something named by the request does not exist (404).
    case notFound(String)
    /// The request is valid but clashes with what is stored (409).
    case conflict(String)
    /// A dependency trigger would close a cycle (409); `cycle` runs from the new upstream back to it.
    case circularDependency(cycle: [WorkflowRef])

    public var message: String {
        switch self {
        case .invalid(let text), .notFound(let text), .conflict(let text): text
        case .circularDependency(let cycle):
            "circular dependency: " + cycle.map(\.name).joined(separator: " → ")
        }
    }

    public var description: String { message }
}

/// A workflow named by id and name, as cycle paths and dependency listings show them.
public struct WorkflowRef: Sendable, Hashable {
    public let id: Int64
    public let name: String

    public init(id: Int64, name: String) {
        self.id = id
        self.name = name
    }

}
