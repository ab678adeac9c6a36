/// One step of a workflow. Stored in `workflows.steps` as the same JSON the API accepts.
public struct Step: Sendable, Equatable {
    public var name: String
    public var action: Action

    public enum Action: Sendable, Equatable {
        case shell(Shell)
        case http(HTTP)
        case noop(sleepMilliseconds: Int)
    }

    public struct Shell: Sendable, Equatable {
        /// argv; no shell is involved unless the user writes `["sh", "-c", …]`.
        public var command: [String]
        public var environment: [String: String]
        public var workingDirectory: String?
        public var timeoutSeconds: Int
    }

    public struct HTTP: Sendable, Equatable {
        public var method: String
        public var url: String
        public var headers: [String: String]
        public var body: String?
        /// nil means any 2xx status counts as success.
        public var expectStatus: [Int]?
        public var timeoutSeconds: Int
    }

    public var kind: StepKind {
        switch action {
        case .shell: .shell
        case .http: .http
        case .noop: .noop
        }
    }

    public var json: JSONValue {
        var fields: [String: JSONValue] = ["name": .string(name), "kind": .string(kind.rawValue)]
        switch action {
        case .shell(let shell):
            fields["command"] = .array(shell.command.map(JSONValue.string))
            fields["env"] = .object(shell.environment.mapValues(JSONValue.string))
            fields["working_directory"] = JSONValue(shell.workingDirectory)
            fields["timeout_seconds"] = .int(Int64(shell.timeoutSeconds))
        case .http(let http):
            fields["method"] = .string(http.method)
            fields["url"] = .string(http.url)
            fields["headers"] = .object(http.headers.mapValues(JSONValue.string))
            fields["body"] = JSONValue(http.body)
            fields["expect_status"] = http.expectStatus.map { .array($0.map { .int(Int64($0)) }) } ?? .null
            fields["timeout_seconds"] = .int(Int64(http.timeoutSeconds))
        case .noop(let sleep):
            fields["sleep_ms"] = .int(Int64(sleep))
        }
        return .object(fields)
    }
}
