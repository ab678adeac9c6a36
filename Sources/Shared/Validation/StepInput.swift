import Foundation

/// A step as the API accepts it and `workflows.steps` stores it (the JSON `Step.json` writes),
/// validated field by field. Null options count as omitted, so a step read back can be sent again.
extension Step: Decodable, NullMeansAbsent {
    /// The fields of every kind of step; which ones a step may carry depends on its `kind`.
    public enum Field: String, CodingKey, CaseIterable {
        case name, kind, command, env
        case workingDirectory = "working_directory"
        case timeoutSeconds = "timeout_seconds"
        case method, url, headers, body
        case expectStatus = "expect_status"
        case sleepMilliseconds = "sleep_ms"
    }

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: Field.self)
        guard let name = try fields.string(.name, maxLength: Limits.stepNameLength) else {
            throw FlowForgeError.invalid("\(fields.fieldName(.name)) is required")
        }
        try FieldRules.checkName(name, field: fields.fieldName(.name))
        guard fields.contains(.kind) else { throw FlowForgeError.invalid("\(fields.fieldName(.kind)) is required (\(StepKind.choices))") }
        let action: Action
        switch try fields.choice(.kind, StepKind.self)! {
        case .shell: action = .shell(try Shell(fields))
        case .http: action = .http(try HTTP(fields))
        case .noop: action = .noop(sleepMilliseconds: try fields.int(.sleepMilliseconds, in: 0...3_600_000) ?? 0)
        }
        self.init(name: name, action: action)
    }

    /// Reads a step back from the JSON stored in `workflows.steps` (written by `json`).
    public init(stored value: JSONValue) throws(FlowForgeError) {
        self = try JSONBodyDecoder().decode(Step.self, from: value, what: "step", at: [NameKey("steps"), IndexKey(0)])
    }

    /// Reads a workflow's stored steps, the JSON array in `workflows.steps`.
    public static func list(stored value: JSONValue) throws(FlowForgeError) -> [Step] {
        guard case .array = value else { return [] }
        return try JSONBodyDecoder().decode([Step].self, from: value, what: "steps", at: [NameKey("steps")])
    }
}

extension Step.Shell {
    init(_ fields: KeyedDecodingContainer<Step.Field>) throws {
        let commandError = FlowForgeError.invalid(
            "\(fields.fieldName(.command)) must be a non-empty array of strings, such as [\"python3\", \"extract.py\"]")
        guard let value = try fields.json(.command) else {
            throw FlowForgeError.invalid("\(fields.fieldName(.command)) is required for a shell step")
        }
        guard case .array(let items) = value, !items.isEmpty else { throw commandError }
        guard items.count <= Limits.argumentsPerCommand else {
            throw FlowForgeError.invalid("\(fields.fieldName(.command)) must have at most \(Limits.argumentsPerCommand) arguments")
        }
        var command: [String] = []
        for item in items {
            guard case .string(let argument) = item else { throw commandError }
            guard argument.count <= Limits.argumentLength, !argument.contains("\0") else {
                throw FlowForgeError.invalid("\(fields.fieldName(.command)) has an argument that is too long or contains NUL")
            }
            command.append(argument)
        }
        guard !command[0].isEmpty else { throw FlowForgeError.invalid("\(fields.fieldName(.command))[0] must name a program") }
        let environment =
            try fields.stringMap(.env, maxEntries: Limits.environmentEntries, maxLength: Limits.environmentValueLength) ?? [:]
        for key in environment.keys {
            guard FieldRules.isEnvironmentName(key) else {
                throw FlowForgeError.invalid(
                    "\(fields.fieldName(.env)) has \"\(key.prefix(40))\", which is not a valid environment variable name")
            }
            guard !key.uppercased().hasPrefix("FLOWFORGE_") else {
                throw FlowForgeError.invalid("\(fields.fieldName(.env)).\(key) is reserved: FLOWFORGE_* variables are set by FlowForge")
            }
        }
        let directory = try fields.string(.workingDirectory, maxLength: 4_096)
        let timeout = try fields.int(.timeoutSeconds, in: 1...Limits.timeoutSeconds) ?? 600
        self.init(command: command, environment: environment, workingDirectory: directory, timeoutSeconds: timeout)
    }
}

extension Step.HTTP {
    private static let methods: Set<String> = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    init(_ fields: KeyedDecodingContainer<Step.Field>) throws {
        let method = try fields.string(.method, maxLength: 10) ?? "GET"
        guard Self.methods.contains(method) else {
            throw FlowForgeError.invalid("\(fields.fieldName(.method)) must be one of \(Self.methods.sorted().joined(separator: ", "))")
        }
        guard let url = try fields.string(.url, maxLength: Limits.urlLength) else {
            throw FlowForgeError.invalid("\(fields.fieldName(.url)) is required for an http step")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw FlowForgeError.invalid("\(fields.fieldName(.url)) must be an absolute http:// or https:// URL")
        }
        let headers = try fields.stringMap(.headers, maxEntries: Limits.headerEntries, maxLength: 8_192) ?? [:]
        for key in headers.keys where key.range(of: #"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\z"#, options: .regularExpression) == nil {
            throw FlowForgeError.invalid("\(fields.fieldName(.headers)) has \"\(key.prefix(40))\", which is not a valid header name")
        }
        let body = try fields.string(.body, maxLength: Limits.httpBodyLength, allowEmpty: true)
        var expectStatus: [Int]?
        if let value = try fields.json(.expectStatus) {
            let statusError = FlowForgeError.invalid(
                "\(fields.fieldName(.expectStatus)) must be a non-empty array of HTTP status codes (100-599)")
            guard case .array(let items) = value, !items.isEmpty, items.count <= 100 else { throw statusError }
            var codes: [Int] = []
            for item in items {
                guard let code = item.intValue, (100...599).contains(code) else { throw statusError }
                codes.append(Int(code))
            }
            expectStatus = codes
        }
        let timeout = try fields.int(.timeoutSeconds, in: 1...Limits.timeoutSeconds) ?? 30
        self.init(method: method, url: url, headers: headers, body: body, expectStatus: expectStatus, timeoutSeconds: timeout)
    }
}

/// A workflow's steps as a request gives them: at least one, at most `Limits.stepsPerWorkflow`,
/// each name used once.
public struct StepList: Decodable, Sendable {
    public var steps: [Step]

    public init(from decoder: any Decoder) throws {
        var items = try decoder.unkeyedContainer()
        let name = FieldPath.name(decoder.codingPath)
        guard let count = items.count, count > 0 else { throw FlowForgeError.invalid("\(name) must contain at least one step") }
        guard count <= Limits.stepsPerWorkflow else {
            throw FlowForgeError.invalid("\(name) must contain at most \(Limits.stepsPerWorkflow) steps")
        }
        steps = []
        var names: Set<String> = []
        while !items.isAtEnd {
            let index = items.currentIndex
            let step = try items.decode(Step.self)
            guard names.insert(step.name).inserted else {
                throw FlowForgeError.invalid(
                    "\(name)[\(index)].name \"\(step.name)\" is used by an earlier step; step names must be unique")
            }
            steps.append(step)
        }
    }
}

extension JSONValue {
    /// The object without its `null` fields: stored steps write absent options as null.
    var strippingNulls: JSONValue {
        guard case .object(let fields) = self else { return self }
        return .object(fields.filter { $0.value != .null })
    }
}
