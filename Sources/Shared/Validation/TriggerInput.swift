import Foundation

/// Turns trigger request bodies into a validated `TriggerDefinition`. Checks that need the
/// database (the upstream exists, no cycle) happen in the store, inside the write's transaction.
public enum TriggerInput {
    private static let fieldsByType: [TriggerType: [String]] = [
        .scheduled: ["cron_expression", "timezone", "misfire_policy"],
        .dependency: ["depends_on_workflow_id", "dependency_condition", "delay_minutes"],
        .event: ["event_type", "event_config"],
    ]

    /// A POST body (or one entry of a workflow's `triggers`).
    public static func create(_ body: JSONValue, path: String = "") throws(FlowForgeError) -> TriggerDefinition {
        var reader = try FieldReader(body, path: path)
        guard reader.has("trigger_type") else {
            throw .invalid("\(reader.name("trigger_type")) is required (\(TriggerType.choices))")
        }
        let type = try reader.choice("trigger_type", TriggerType.self)!
        var definition = TriggerDefinition(type: type)
        try apply(&reader, to: &definition)
        try reader.finish()
        return definition
    }

    /// A PUT body: only the fields given change; the type cannot.
    public static func update(_ body: JSONValue, of current: Trigger) throws(FlowForgeError) -> TriggerDefinition {
        var reader = try FieldReader(body)
        if let type = try reader.choice("trigger_type", TriggerType.self), type != current.type {
            throw .invalid("trigger_type cannot be changed from \(current.type.rawValue) to \(type.rawValue); create a new trigger instead")
        }
        var definition = TriggerDefinition(current)
        if !reader.has("trigger_name") && current.nameIsGenerated { definition.name = nil }
        try apply(&reader, to: &definition)
        try reader.finish()
        return definition
    }

    private static func apply(_ reader: inout FieldReader, to definition: inout TriggerDefinition) throws(FlowForgeError) {
        for (type, fields) in fieldsByType where type != definition.type {
            if let field = fields.first(where: reader.has) {
                throw .invalid("\(reader.name(field)) applies only to \(type.rawValue) triggers, not \(definition.type.rawValue) ones")
            }
        }
        if let name = try reader.nullableString("trigger_name", maxLength: Limits.nameLength) {
            if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .invalid("\(reader.name("trigger_name")) must not be empty")
            }
            if let name { try WorkflowInput.checkName(name, field: reader.name("trigger_name")) }
            definition.name = name
        }
        if let enabled = try reader.bool("enabled") { definition.enabled = enabled }

        switch definition.type {
        case .scheduled:
            if let cron = try reader.string("cron_expression", maxLength: Limits.cronLength) {
                definition.cronExpression = cron.trimmingCharacters(in: .whitespaces)
            }
            if let zone = try reader.string("timezone", maxLength: 64) { definition.timezone = zone }
            if let policy = try reader.choice("misfire_policy", MisfirePolicy.self) { definition.misfirePolicy = policy }
            guard let cron = definition.cronExpression else {
                throw .invalid("\(reader.name("cron_expression")) is required for a scheduled trigger")
            }
            do {
                _ = try CronExpression(cron)
            } catch {
                throw .invalid("\(reader.name("cron_expression")): \(error.message)")
            }
            do {
                _ = try CronTimeZone.named(definition.timezone)
            } catch {
                throw .invalid(error.message)
            }
        case .dependency:
            if let upstream = try reader.int("depends_on_workflow_id", in: 1...Int64.max) {
                definition.dependsOnWorkflowId = upstream
            }
            if let condition = try reader.choice("dependency_condition", DependencyCondition.self) {
                definition.dependencyCondition = condition
            }
            if let delay = try reader.int("delay_minutes", in: 0...60) { definition.delayMinutes = delay }
            guard definition.dependsOnWorkflowId != nil else {
                throw .invalid("\(reader.name("depends_on_workflow_id")) is required for a dependency trigger")
            }
            if definition.dependencyCondition == nil { definition.dependencyCondition = .onSuccess }
        case .event:
            if let type = try reader.choice("event_type", EventType.self) {
                if let current = definition.eventType, current != type {
                    throw .invalid("event_type cannot be changed from \(current.rawValue) to \(type.rawValue); create a new trigger instead")
                }
                definition.eventType = type
            }
            if let config = reader.value("event_config") {
                switch config {
                case .null: definition.eventConfig = nil
                case .object:
                    guard !config.containsNUL else {
                        throw .invalid("\(reader.name("event_config")) must not contain NUL characters")
                    }
                    guard config.encoded().count <= Limits.eventConfigBytes else {
                        throw .invalid("\(reader.name("event_config")) must be at most \(Limits.eventConfigBytes) bytes of JSON")
                    }
                    definition.eventConfig = config
                default: throw .invalid("\(reader.name("event_config")) must be an object, not \(config.typeName)")
                }
            }
            guard let eventType = definition.eventType else {
                throw .invalid("\(reader.name("event_type")) is required for an event trigger (\(EventType.choices))")
            }
            switch eventType {
            case .webhook: _ = try WebhookConfig(definition.eventConfig, path: reader.name("event_config") + ".")
            case .fileArrival: _ = try FileArrivalConfig(definition.eventConfig, path: reader.name("event_config") + ".")
            }
        }
    }
}
