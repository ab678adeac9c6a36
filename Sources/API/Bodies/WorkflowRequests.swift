import FlowForgeShared

/// A request body: a `Decodable` type whose fields openapi.yaml lists (the contract test holds
/// the two together).
protocol RequestBody: Decodable {
    /// Every field the body may carry, as JSON names them.
    static var fieldNames: [String] { get }
}

/// The fields a workflow body may carry.
enum WorkflowField: String, CodingKey, CaseIterable {
    case name, description, steps
    case timeoutSeconds = "timeout_seconds", maxAttempts = "max_attempts", retryBackoffSeconds = "retry_backoff_seconds"
    case maxConcurrentRuns = "max_concurrent_runs", overlapPolicy = "overlap_policy"
    /// Only when creating: the triggers to create with the workflow.
    case triggers
}

/// The workflow fields a body gives, each checked; nil for those it leaves out. Create applies
/// them to the defaults, update to the workflow as stored.
struct WorkflowChanges {
    var name: String?
    /// `.some(nil)`: sent as null, which clears the description.
    var description: String??
    var steps: [Step]?
    var timeoutSeconds: Int?
    var maxAttempts: Int?
    var retryBackoffSeconds: Int?
    var maxConcurrentRuns: Int?
    var overlapPolicy: OverlapPolicy?

    init(_ fields: KeyedDecodingContainer<WorkflowField>) throws {
        name = try fields.string(.name, maxLength: Limits.nameLength)
        if let name { try FieldRules.checkName(name, field: fields.fieldName(.name)) }
        description = try fields.nullableString(.description, maxLength: Limits.descriptionLength)
        steps = try fields.given(StepList.self, .steps)?.steps
        timeoutSeconds = try fields.int(.timeoutSeconds, in: 1...Limits.timeoutSeconds)
        maxAttempts = try fields.int(.maxAttempts, in: 1...100)
        retryBackoffSeconds = try fields.int(.retryBackoffSeconds, in: 0...86_400)
        maxConcurrentRuns = try fields.int(.maxConcurrentRuns, in: 1...1_000)
        overlapPolicy = try fields.choice(.overlapPolicy, OverlapPolicy.self)
    }

    func apply(to definition: inout WorkflowDefinition) {
        if let name { definition.name = name }
        if let description { definition.description = description ?? "" }
        if let steps { definition.steps = steps }
        if let timeoutSeconds { definition.timeoutSeconds = timeoutSeconds }
        if let maxAttempts { definition.maxAttempts = maxAttempts }
        if let retryBackoffSeconds { definition.retryBackoffSeconds = retryBackoffSeconds }
        if let maxConcurrentRuns { definition.maxConcurrentRuns = maxConcurrentRuns }
        if let overlapPolicy { definition.overlapPolicy = overlapPolicy }
    }
}

/// `POST /api/workflows` (`WorkflowCreate`): `name` and `steps` are required, the rest defaults
/// as DESIGN.md shows; `triggers` are created with the workflow.
struct WorkflowCreate: RequestBody {
    static var fieldNames: [String] { WorkflowField.allCases.map(\.rawValue) }

    var definition: WorkflowDefinition
    var triggers: [TriggerCreate] = []

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: WorkflowField.self)
        guard fields.contains(.name) else { throw FlowForgeError.invalid("name is required") }
        guard fields.contains(.steps) else { throw FlowForgeError.invalid("steps is required: a workflow needs at least one step") }
        definition = WorkflowDefinition(name: "", steps: [])
        try WorkflowChanges(fields).apply(to: &definition)
        guard fields.contains(.triggers) else { return }
        var items = try fields.nestedUnkeyedContainer(forKey: .triggers)
        guard (items.count ?? 0) <= Limits.triggersPerWorkflow else {
            throw FlowForgeError.invalid("triggers must have at most \(Limits.triggersPerWorkflow) entries")
        }
        while !items.isAtEnd { triggers.append(try items.decode(TriggerCreate.self)) }
    }
}

/// `PUT /api/workflows/:id` (`WorkflowUpdate`): only the fields given change.
struct WorkflowUpdate: RequestBody {
    static var fieldNames: [String] { WorkflowField.allCases.filter { $0 != .triggers }.map(\.rawValue) }

    var changes: WorkflowChanges

    init(from decoder: any Decoder) throws {
        changes = try WorkflowChanges(try decoder.container(keyedBy: WorkflowField.self))
    }
}

/// `POST …/triggers/validate-dependency` (`ValidateDependencyRequest`): the would-be upstream.
struct ValidateDependencyRequest: RequestBody {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case dependsOnWorkflowId = "depends_on_workflow_id"
    }

    static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    var dependsOnWorkflowId: Int64

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        guard let upstream = try fields.int(.dependsOnWorkflowId, in: 1...Int64.max) else {
            throw FlowForgeError.invalid("depends_on_workflow_id is required")
        }
        dependsOnWorkflowId = upstream
    }
}

/// `POST …/triggers/:triggerId/rotate-secret`, whose body is optional: how long the old secrets
/// keep working (default a day).
struct RotateSecretRequest: RequestBody {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case graceSeconds = "grace_seconds"
    }

    static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    var graceSeconds = 86_400

    init() {}

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        if let grace = try fields.int(.graceSeconds, in: 0...604_800) { graceSeconds = grace }
    }
}
