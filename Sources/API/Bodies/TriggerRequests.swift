import FlowForgeShared
import Foundation

/// The fields a trigger body may carry. Which ones apply depends on the trigger's type.
enum TriggerField: String, CodingKey, CaseIterable {
    case triggerType = "trigger_type", triggerName = "trigger_name", enabled
    case cronExpression = "cron_expression", timezone, misfirePolicy = "misfire_policy"
    case jitterSeconds = "jitter_seconds", activeFrom = "active_from", activeUntil = "active_until", dstPolicy = "dst_policy"
    case dependsOnWorkflowId = "depends_on_workflow_id", dependsOnWorkflowIds = "depends_on_workflow_ids"
    case dependencyCondition = "dependency_condition"
    case delayMinutes = "delay_minutes"
    case eventType = "event_type", eventConfig = "event_config"
    /// Any type: the runs' default parameters.
    case params

    /// The fields that belong to one type of trigger only.
    static let byType: [(TriggerType, [TriggerField])] = [
        (.scheduled, [.cronExpression, .timezone, .misfirePolicy, .jitterSeconds, .activeFrom, .activeUntil, .dstPolicy]),
        (.dependency, [.dependsOnWorkflowId, .dependsOnWorkflowIds, .dependencyCondition, .delayMinutes]),
        (.event, [.eventType, .eventConfig]),
    ]
}

extension CodingUserInfoKey {
    /// The `Trigger` a `TriggerUpdate` body changes.
    static let editedTrigger = CodingUserInfoKey(rawValue: "flowforge.editedTrigger")!
}

/// `POST /api/workflows/:id/triggers`, or one entry of a new workflow's `triggers`
/// (`TriggerCreate`): a validated definition. Checks that need the database (the upstream
/// exists, no cycle) happen in the store, inside the write's transaction.
struct TriggerCreate: RequestBody {
    static var fieldNames: [String] { TriggerField.allCases.map(\.rawValue) }

    var definition: TriggerDefinition

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: TriggerField.self)
        guard fields.contains(.triggerType) else {
            throw FlowForgeError.invalid("\(fields.fieldName(.triggerType)) is required (\(TriggerType.choices))")
        }
        definition = TriggerDefinition(type: try fields.choice(.triggerType, TriggerType.self)!)
        try TriggerChanges.apply(fields, to: &definition)
    }
}

/// `PUT /api/workflows/:id/triggers/:triggerId` (`TriggerUpdate`): only the fields given change;
/// the type cannot. Read against the trigger it edits, passed as `userInfo[.editedTrigger]`.
struct TriggerUpdate: RequestBody {
    static var fieldNames: [String] { TriggerField.allCases.map(\.rawValue) }

    var definition: TriggerDefinition

    init(from decoder: any Decoder) throws {
        guard let current = decoder.userInfo[.editedTrigger] as? Trigger else {
            preconditionFailure("a TriggerUpdate is decoded with the trigger it edits")
        }
        let fields = try decoder.container(keyedBy: TriggerField.self)
        if let type = try fields.choice(.triggerType, TriggerType.self), type != current.type {
            throw FlowForgeError.invalid(
                "trigger_type cannot be changed from \(current.type.rawValue) to \(type.rawValue); create a new trigger instead")
        }
        definition = TriggerDefinition(current)
        // A name FlowForge made up follows the edit, unless the body names the trigger.
        if !fields.contains(.triggerName) && current.nameIsGenerated { definition.name = nil }
        try TriggerChanges.apply(fields, to: &definition)
    }
}

/// Applies a trigger body's fields to a definition in the order the checks have always run:
/// fields of another type first, then the name, then the type's own fields and what they need.
enum TriggerChanges {
    static func apply(_ fields: KeyedDecodingContainer<TriggerField>, to definition: inout TriggerDefinition) throws {
        for (type, typeFields) in TriggerField.byType where type != definition.type {
            if let field = typeFields.first(where: fields.contains) {
                throw FlowForgeError.invalid(
                    "\(fields.fieldName(field)) applies only to \(type.rawValue) triggers, not \(definition.type.rawValue) ones")
            }
        }
        if let name = try fields.nullableString(.triggerName, maxLength: Limits.nameLength) {
            if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
                throw FlowForgeError.invalid("\(fields.fieldName(.triggerName)) must not be empty")
            }
            if let name { try FieldRules.checkName(name, field: fields.fieldName(.triggerName)) }
            definition.name = name
        }
        if let enabled = try fields.bool(.enabled) { definition.enabled = enabled }
        if let params = try fields.json(.params) { definition.params = try RunParams.check(params, name: fields.fieldName(.params)) }
        switch definition.type {
        case .scheduled: try schedule(fields, &definition)
        case .dependency: try dependency(fields, &definition)
        case .event: try event(fields, &definition)
        }
    }

    private static func schedule(_ fields: KeyedDecodingContainer<TriggerField>, _ definition: inout TriggerDefinition) throws {
        if let cron = try fields.string(.cronExpression, maxLength: Limits.cronLength) {
            definition.cronExpression = cron.trimmingCharacters(in: .whitespaces)
        }
        if let zone = try fields.string(.timezone, maxLength: 64) { definition.timezone = zone }
        if let policy = try fields.choice(.misfirePolicy, MisfirePolicy.self) { definition.misfirePolicy = policy }
        guard let cron = definition.cronExpression else {
            throw FlowForgeError.invalid("\(fields.fieldName(.cronExpression)) is required for a scheduled trigger")
        }
        do {
            _ = try CronExpression(cron)
        } catch {
            throw FlowForgeError.invalid("\(fields.fieldName(.cronExpression)): \(error.message)")
        }
        do {
            _ = try CronTimeZone.named(definition.timezone)
        } catch {
            throw FlowForgeError.invalid(error.message)
        }
        try scheduleOptions(fields, &definition.scheduleOptions)
    }

    /// `jitter_seconds`, `active_from` / `active_until` (null clears one) and `dst_policy` (null
    /// clears it; given, it replaces the whole policy, and a half left out or null follows the
    /// rule by hour restriction).
    private static func scheduleOptions(_ fields: KeyedDecodingContainer<TriggerField>, _ options: inout ScheduleOptions) throws {
        if let jitter = try fields.int(.jitterSeconds, in: 0...ScheduleOptions.maxJitterSeconds) { options.jitterSeconds = jitter }
        func time(_ key: TriggerField) throws -> Date?? {
            guard let text = try fields.nullableString(key, maxLength: 64) else { return .none }
            guard let text else { return .some(nil) }
            guard let date = Timestamp.parse(text) else {
                throw FlowForgeError.invalid("\(fields.fieldName(key)) must be an RFC 3339 time such as 2026-01-01T00:00:00Z, or null")
            }
            return .some(date)
        }
        if let from = try time(.activeFrom) { options.activeFrom = from }
        if let until = try time(.activeUntil) { options.activeUntil = until }
        if let from = options.activeFrom, let until = options.activeUntil, from >= until {
            throw FlowForgeError.invalid(
                fields.contains(.activeUntil)
                    ? "\(fields.fieldName(.activeUntil)) (\(Timestamp.format(until))) must be later than active_from (\(Timestamp.format(from)))"
                    : "\(fields.fieldName(.activeFrom)) (\(Timestamp.format(from))) must be earlier than active_until (\(Timestamp.format(until)))")
        }
        if let value = try fields.json(.dstPolicy) {
            guard value != .null else {
                options.dstPolicy = nil
                return
            }
            let policy = try fields.nestedContainer(keyedBy: DSTPolicyField.self, forKey: .dstPolicy)
            func given<T: CaseIterable & RawRepresentable>(_ key: DSTPolicyField, _ type: T.Type) throws -> T? where T.RawValue == String {
                if try policy.json(key) == .null { return nil }
                return try policy.choice(key, type)
            }
            options.dstPolicy = DSTPolicy(gap: try given(.gap, DSTPolicy.Gap.self), overlap: try given(.overlap, DSTPolicy.Overlap.self))
            if options.dstPolicy?.isEmpty == true { options.dstPolicy = nil }
        }
    }

    /// The fields of `dst_policy`.
    enum DSTPolicyField: String, CodingKey, CaseIterable {
        case gap, overlap
    }

    private static func dependency(_ fields: KeyedDecodingContainer<TriggerField>, _ definition: inout TriggerDefinition) throws {
        try upstreams(fields, &definition)
        if let condition = try fields.choice(.dependencyCondition, DependencyCondition.self) {
            definition.dependencyCondition = condition
        }
        if let delay = try fields.int(.delayMinutes, in: 0...60) { definition.delayMinutes = delay }
        guard !definition.upstreamIds.isEmpty else {
            throw FlowForgeError.invalid(
                "\(fields.fieldName(.dependsOnWorkflowId)) or \(fields.fieldName(.dependsOnWorkflowIds)) is required for a dependency trigger")
        }
        if definition.dependencyCondition == nil { definition.dependencyCondition = .onSuccess }
    }

    /// One upstream (`depends_on_workflow_id`) or several (`depends_on_workflow_ids`, a join),
    /// not both; each a workflow id, none twice.
    private static func upstreams(_ fields: KeyedDecodingContainer<TriggerField>, _ definition: inout TriggerDefinition) throws {
        let single = try fields.int(.dependsOnWorkflowId, in: 1...Int64.max)
        guard let list = try fields.json(.dependsOnWorkflowIds) else {
            if let single { definition.upstreamIds = [single] }
            return
        }
        let name = fields.fieldName(.dependsOnWorkflowIds)
        if single != nil {
            throw FlowForgeError.invalid(
                "give either \(fields.fieldName(.dependsOnWorkflowId)) or \(name), not both")
        }
        guard case .array(let items) = list else { throw FlowForgeError.invalid("\(name) must be an array of workflow ids, not \(list.typeName)") }
        guard (1...Limits.joinUpstreams).contains(items.count) else {
            throw FlowForgeError.invalid("\(name) must list between 1 and \(Limits.joinUpstreams) workflow ids, not \(items.count)")
        }
        var ids: [Int64] = []
        for (index, item) in items.enumerated() {
            let id = try FieldRules.int(item, name: "\(name)[\(index)]", in: 1...Int64.max)
            if ids.contains(id) { throw FlowForgeError.invalid("\(name)[\(index)]: workflow \(id) is listed twice") }
            ids.append(id)
        }
        definition.upstreamIds = ids
    }

    private static func event(_ fields: KeyedDecodingContainer<TriggerField>, _ definition: inout TriggerDefinition) throws {
        if let type = try fields.choice(.eventType, EventType.self) {
            if let current = definition.eventType, current != type {
                throw FlowForgeError.invalid(
                    "event_type cannot be changed from \(current.rawValue) to \(type.rawValue); create a new trigger instead")
            }
            definition.eventType = type
        }
        let configName = fields.fieldName(.eventConfig)
        if let config = try fields.json(.eventConfig) {
            switch config {
            case .null: definition.eventConfig = nil
            case .object:
                guard !config.containsNUL else { throw FlowForgeError.invalid("\(configName) must not contain NUL characters") }
                guard config.encoded().count <= Limits.eventConfigBytes else {
                    throw FlowForgeError.invalid("\(configName) must be at most \(Limits.eventConfigBytes) bytes of JSON")
                }
                definition.eventConfig = config
            default: throw FlowForgeError.invalid("\(configName) must be an object, not \(config.typeName)")
            }
        }
        guard let eventType = definition.eventType else {
            throw FlowForgeError.invalid("\(fields.fieldName(.eventType)) is required for an event trigger (\(EventType.choices))")
        }
        switch eventType {
        case .webhook: _ = try WebhookConfig(definition.eventConfig, path: configName + ".")
        case .fileArrival: _ = try FileArrivalConfig(definition.eventConfig, path: configName + ".")
        }
    }
}
