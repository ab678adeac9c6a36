import Foundation

/// Turns workflow request bodies into a validated `WorkflowDefinition`.
public enum WorkflowInput {
    /// A POST body: `name` and `steps` are required, the rest defaults as DESIGN.md shows.
    /// Also returns the optional `triggers` array to create with the workflow.
    public static func create(_ body: JSONValue) throws(FlowForgeError) -> (WorkflowDefinition, [JSONValue]) {
        var reader = try FieldReader(body)
        guard reader.has("name") else { throw .invalid("name is required") }
        guard reader.has("steps") else { throw .invalid("steps is required: a workflow needs at least one step") }
        var definition = WorkflowDefinition(name: "", steps: [])
        try apply(&reader, to: &definition)
        var triggers: [JSONValue] = []
        if let value = reader.value("triggers") {
            guard case .array(let items) = value else { throw .invalid("triggers must be an array, not \(value.typeName)") }
            guard items.count <= Limits.triggersPerWorkflow else {
                throw .invalid("triggers must have at most \(Limits.triggersPerWorkflow) entries")
            }
            triggers = items
        }
        try reader.finish()
        return (definition, triggers)
    }

    /// A PUT body: only the fields given change.
    public static func update(_ body: JSONValue, of current: Workflow) throws(FlowForgeError) -> WorkflowDefinition {
        var reader = try FieldReader(body)
        var definition = try WorkflowDefinition(current)
        try apply(&reader, to: &definition)
        try reader.finish()
        return definition
    }

    private static func apply(_ reader: inout FieldReader, to definition: inout WorkflowDefinition) throws(FlowForgeError) {
        if let name = try reader.string("name", maxLength: Limits.nameLength) {
            try checkName(name, field: "name")
            definition.name = name
        }
        if let description = try reader.nullableString("description", maxLength: Limits.descriptionLength) {
            definition.description = description ?? ""
        }
        if let value = reader.value("steps") {
            definition.steps = try steps(value)
        }
        if let timeout = try reader.int("timeout_seconds", in: 1...Limits.timeoutSeconds) {
            definition.timeoutSeconds = timeout
        }
        if let attempts = try reader.int("max_attempts", in: 1...100) { definition.maxAttempts = attempts }
        if let backoff = try reader.int("retry_backoff_seconds", in: 0...86_400) { definition.retryBackoffSeconds = backoff }
        if let limit = try reader.int("max_concurrent_runs", in: 1...1_000) { definition.maxConcurrentRuns = limit }
        if let policy = try reader.choice("overlap_policy", OverlapPolicy.self) { definition.overlapPolicy = policy }
    }

    static func checkName(_ name: String, field: String) throws(FlowForgeError) {
        if name != name.trimmingCharacters(in: .whitespacesAndNewlines) {
            throw .invalid("\(field) must not start or end with spaces")
        }
        if name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) {
            throw .invalid("\(field) must not contain control characters")
        }
    }

    static func steps(_ value: JSONValue) throws(FlowForgeError) -> [Step] {
        guard case .array(let items) = value else { throw .invalid("steps must be an array, not \(value.typeName)") }
        guard !items.isEmpty else { throw .invalid("steps must contain at least one step") }
        guard items.count <= Limits.stepsPerWorkflow else {
            throw .invalid("steps must contain at most \(Limits.stepsPerWorkflow) steps")
        }
        var steps: [Step] = []
        var names: Set<String> = []
        for (index, item) in items.enumerated() {
            let step = try self.step(item, path: "steps[\(index)].")
            guard names.insert(step.name).inserted else {
                throw .invalid("steps[\(index)].name \"\(step.name)\" is used by an earlier step; step names must be unique")
            }
            steps.append(step)
        }
        return steps
    }

    private static func step(_ value: JSONValue, path: String) throws(FlowForgeError) -> Step {
        // A step read back from the API writes absent options as null; accept that shape too.
        var reader = try FieldReader(value.strippingNulls, path: path)
        guard let name = try reader.string("name", maxLength: Limits.stepNameLength) else {
            throw .invalid("\(path)name is required")
        }
        try checkName(name, field: "\(path)name")
        guard reader.has("kind") else { throw .invalid("\(path)kind is required (\(StepKind.choices))") }
        let kind = try reader.choice("kind", StepKind.self)!
        let action: Step.Action
        switch kind {
        case .shell: action = .shell(try shell(&reader, path: path))
        case .http: action = .http(try http(&reader, path: path))
        case .noop: action = .noop(sleepMilliseconds: try reader.int("sleep_ms", in: 0...3_600_000) ?? 0)
        }
        try reader.finish()
        return Step(name: name, action: action)
    }

    private static func shell(_ reader: inout FieldReader, path: String) throws(FlowForgeError) -> Step.Shell {
        let commandError = FlowForgeError.invalid("\(path)command must be a non-empty array of strings, such as [\"python3\", \"extract.py\"]")
        guard let value = reader.value("command") else { throw .invalid("\(path)command is required for a shell step") }
        guard case .array(let items) = value, !items.isEmpty else { throw commandError }
        guard items.count <= Limits.argumentsPerCommand else {
            throw .invalid("\(path)command must have at most \(Limits.argumentsPerCommand) arguments")
        }
        var command: [String] = []
        for item in items {
            guard case .string(let argument) = item else { throw commandError }
            guard argument.count <= Limits.argumentLength, !argument.contains("\0") else {
                throw .invalid("\(path)command has an argument that is too long or contains NUL")
            }
            command.append(argument)
        }
        guard !command[0].isEmpty else { throw .invalid("\(path)command[0] must name a program") }
        let environment =
            try reader.stringMap("env", maxEntries: Limits.environmentEntries, maxLength: Limits.environmentValueLength) ?? [:]
        for key in environment.keys {
            guard key.range(of: #"\A[A-Za-z_][A-Za-z0-9_]*\z"#, options: .regularExpression) != nil else {
                throw .invalid("\(path)env has \"\(key.prefix(40))\", which is not a valid environment variable name")
            }
            guard !key.uppercased().hasPrefix("FLOWFORGE_") else {
                throw .invalid("\(path)env.\(key) is reserved: FLOWFORGE_* variables are set by FlowForge")
            }
        }
        let directory = try reader.string("working_directory", maxLength: 4_096)
        let timeout = try reader.int("timeout_seconds", in: 1...Limits.timeoutSeconds) ?? 600
        return Step.Shell(command: command, environment: environment, workingDirectory: directory, timeoutSeconds: timeout)
    }

    private static let httpMethods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    private static func http(_ reader: inout FieldReader, path: String) throws(FlowForgeError) -> Step.HTTP {
        let method = try reader.string("method", maxLength: 10) ?? "GET"
        guard httpMethods.contains(method) else {
            throw .invalid("\(path)method must be one of \(httpMethods.sorted().joined(separator: ", "))")
        }
        guard let url = try reader.string("url", maxLength: Limits.urlLength) else {
            throw .invalid("\(path)url is required for an http step")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw .invalid("\(path)url must be an absolute http:// or https:// URL")
        }
        let headers = try reader.stringMap("headers", maxEntries: Limits.headerEntries, maxLength: 8_192) ?? [:]
        for key in headers.keys where key.range(of: #"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\z"#, options: .regularExpression) == nil {
            throw .invalid("\(path)headers has \"\(key.prefix(40))\", which is not a valid header name")
        }
        let body = try reader.string("body", maxLength: Limits.httpBodyLength, allowEmpty: true)
        var expectStatus: [Int]?
        if let value = reader.value("expect_status") {
            let statusError = FlowForgeError.invalid("\(path)expect_status must be a non-empty array of HTTP status codes (100-599)")
            guard case .array(let items) = value, !items.isEmpty, items.count <= 100 else { throw statusError }
            var codes: [Int] = []
            for item in items {
                guard let code = item.intValue, (100...599).contains(code) else { throw statusError }
                codes.append(Int(code))
            }
            expectStatus = codes
        }
        let timeout = try reader.int("timeout_seconds", in: 1...Limits.timeoutSeconds) ?? 30
        return Step.HTTP(
            method: method, url: url, headers: headers, body: body, expectStatus: expectStatus, timeoutSeconds: timeout)
    }
}

extension Step {
    /// Reads a step back from the JSON stored in `workflows.steps` (written by `json`).
    public init(stored value: JSONValue) throws(FlowForgeError) {
        let steps = try WorkflowInput.steps(.array([value.strippingNulls]))
        self = steps[0]
    }

    /// Reads a workflow's stored steps, the JSON array in `workflows.steps`.
    public static func list(stored value: JSONValue) throws(FlowForgeError) -> [Step] {
        try (value.arrayValue ?? []).map { step throws(FlowForgeError) in try Step(stored: step) }
    }
}

extension JSONValue {
    /// The object without its `null` fields: stored steps write absent options as null.
    var strippingNulls: JSONValue {
        guard case .object(let fields) = self else { return self }
        return .object(fields.filter { $0.value != .null })
    }
}
