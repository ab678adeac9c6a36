import FlowForgeShared
import Foundation

/// The fields an alert rule body may carry.
enum AlertRuleField: String, CodingKey, CaseIterable {
    case name
    case workflowIds = "workflow_ids", allWorkflows = "all_workflows"
    case events
    case channelIds = "channel_ids"
    case throttleMinutes = "throttle_minutes"
    case enabled
}

extension CodingUserInfoKey {
    /// The `AlertRule` an `AlertRuleUpdate` body changes.
    static let editedAlertRule = CodingUserInfoKey(rawValue: "flowforge.editedAlertRule")!
}

/// `POST /api/alert-rules` (`AlertRuleCreate`): a validated definition. Whether its workflows
/// and channels exist is checked by the store, inside the write's transaction.
struct AlertRuleCreate: RequestBody {
    static var fieldNames: [String] { AlertRuleField.allCases.map(\.rawValue) }

    var definition: AlertRuleDefinition

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: AlertRuleField.self)
        guard fields.contains(.name) else { throw FlowForgeError.invalid("name is required") }
        definition = AlertRuleDefinition(name: "", allWorkflows: false, workflowIds: [], events: AlertEvents(), channelIds: [])
        try AlertRuleChanges.apply(fields, to: &definition, creating: true)
    }
}

/// `PUT /api/alert-rules/:id` (`AlertRuleUpdate`): only the fields given change. Read against
/// the rule it edits, passed as `userInfo[.editedAlertRule]`.
struct AlertRuleUpdate: RequestBody {
    static var fieldNames: [String] { AlertRuleField.allCases.map(\.rawValue) }

    var definition: AlertRuleDefinition

    init(from decoder: any Decoder) throws {
        guard let current = decoder.userInfo[.editedAlertRule] as? AlertRule else {
            preconditionFailure("an AlertRuleUpdate is decoded with the rule it edits")
        }
        definition = AlertRuleDefinition(current)
        try AlertRuleChanges.apply(try decoder.container(keyedBy: AlertRuleField.self), to: &definition, creating: false)
    }
}

/// Applies a rule body's fields to a definition, in the order of the fields.
enum AlertRuleChanges {
    static func apply(_ fields: KeyedDecodingContainer<AlertRuleField>, to definition: inout AlertRuleDefinition, creating: Bool) throws {
        if let name = try fields.string(.name, maxLength: Limits.nameLength) {
            try FieldRules.checkName(name, field: fields.fieldName(.name))
            definition.name = name
        }
        try workflows(fields, &definition, creating: creating)
        if let value = try fields.json(.events) {
            definition.events = try events(value, name: fields.fieldName(.events))
        } else if creating {
            throw FlowForgeError.invalid("\(fields.fieldName(.events)) is required: list at least one, such as [\"failed\"]")
        }
        if let value = try fields.json(.channelIds) {
            definition.channelIds = try ids(
                value, name: fields.fieldName(.channelIds), what: "alert channel", limit: AlertRuleDefinition.maxChannels)
        } else if creating {
            throw FlowForgeError.invalid("\(fields.fieldName(.channelIds)) is required: list the alert channels to send to")
        }
        if let minutes = try fields.int(.throttleMinutes, in: AlertRuleDefinition.throttleRange) { definition.throttleMinutes = minutes }
        if let enabled = try fields.bool(.enabled) { definition.enabled = enabled }
    }

    /// `workflow_ids` (at least one) or `all_workflows: true`, not both.
    private static func workflows(_ fields: KeyedDecodingContainer<AlertRuleField>, _ definition: inout AlertRuleDefinition, creating: Bool) throws {
        let idsName = fields.fieldName(.workflowIds)
        let all = try fields.bool(.allWorkflows)
        let list = try fields.json(.workflowIds)
        if all == true {
            if list != nil { throw FlowForgeError.invalid("give either \(idsName) or all_workflows: true, not both") }
            (definition.allWorkflows, definition.workflowIds) = (true, [])
        } else if let list {
            definition.workflowIds = try ids(list, name: idsName, what: "workflow", limit: AlertRuleDefinition.maxWorkflows)
            definition.allWorkflows = false
        } else if creating || (all == false && definition.allWorkflows) {
            throw FlowForgeError.invalid("\(idsName) or all_workflows: true is required")
        }
    }

    /// A list of ids, 1 to `limit`, none twice.
    private static func ids(_ value: JSONValue, name: String, what: String, limit: Int) throws -> [Int64] {
        guard case .array(let items) = value else { throw FlowForgeError.invalid("\(name) must be an array of \(what) ids, not \(value.typeName)") }
        guard !items.isEmpty else {
            throw FlowForgeError.invalid(
                what == "workflow"
                    ? "\(name) must list at least one workflow, or give all_workflows: true"
                    : "\(name) must list at least one \(what)")
        }
        guard items.count <= limit else { throw FlowForgeError.invalid("\(name) must list at most \(limit) \(what)s, not \(items.count)") }
        var ids: [Int64] = []
        for (index, item) in items.enumerated() {
            let id = try FieldRules.int(item, name: "\(name)[\(index)]", in: 1...Int64.max)
            if ids.contains(id) { throw FlowForgeError.invalid("\(name)[\(index)]: \(what) \(id) is listed twice") }
            ids.append(id)
        }
        return ids
    }

    static let eventList = AlertEventType.choices

    /// `events`: each a name (`"failed"`) or an object (`{"type": "late", "seconds": 300}`),
    /// each type once; consecutive_failures takes a `count`, late and long_running `seconds`.
    static func events(_ value: JSONValue, name: String) throws -> AlertEvents {
        guard case .array(let items) = value else {
            throw FlowForgeError.invalid("\(name) must be an array of events, such as [\"failed\"], not \(value.typeName)")
        }
        guard !items.isEmpty else { throw FlowForgeError.invalid("\(name) must list at least one event, such as [\"failed\"]") }
        guard items.count <= AlertEventType.allCases.count else {
            throw FlowForgeError.invalid("\(name) must list each event at most once (\(AlertEventType.allCases.count) in all)")
        }
        var events = AlertEvents()
        for (index, item) in items.enumerated() {
            let itemName = "\(name)[\(index)]"
            let type: AlertEventType
            var threshold: Int?
            switch item {
            case .string(let text):
                guard let known = AlertEventType(rawValue: text) else {
                    throw FlowForgeError.invalid("\(itemName): \"\(text.prefix(80))\" is not an event; use \(eventList)")
                }
                type = known
                if let field = thresholdField(type) {
                    throw FlowForgeError.invalid("\(itemName): \(type.rawValue) needs \(field == "count" ? "a count" : "seconds"), as \(example(type))")
                }
            case .object:
                var reader = try FieldReader(item, path: itemName + ".")
                guard let text = try reader.string("type", maxLength: 100) else {
                    throw FlowForgeError.invalid("\(itemName).type is required (\(eventList))")
                }
                guard let known = AlertEventType(rawValue: text) else {
                    throw FlowForgeError.invalid("\(itemName).type: \"\(text.prefix(80))\" is not an event; use \(eventList)")
                }
                type = known
                for field in ["count", "seconds"] where reader.has(field) && thresholdField(type) != field {
                    let owners = field == "count" ? "consecutive_failures" : "late and long_running"
                    throw FlowForgeError.invalid("\(itemName).\(field) applies only to \(owners), not \(type.rawValue)")
                }
                if let field = thresholdField(type) {
                    let range = field == "count" ? AlertEvents.countRange : AlertEvents.secondsRange
                    guard let number = try reader.int(field, in: range) else {
                        throw FlowForgeError.invalid(
                            "\(itemName).\(field) is required for \(type.rawValue) (\(range.lowerBound) to \(range.upperBound)), as \(example(type))")
                    }
                    threshold = number
                }
                try reader.finish()
            default:
                throw FlowForgeError.invalid(
                    "\(itemName) must be an event name or an object such as {\"type\": \"late\", \"seconds\": 300}, not \(item.typeName)")
            }
            if events.contains(type) { throw FlowForgeError.invalid("\(itemName): \(type.rawValue) is listed twice") }
            switch type {
            case .failed: events.failed = true
            case .succeeded: events.succeeded = true
            case .recovered: events.recovered = true
            case .skipped: events.skipped = true
            case .consecutiveFailures: events.consecutiveFailures = threshold
            case .late: events.lateSeconds = threshold
            case .longRunning: events.longRunningSeconds = threshold
            }
        }
        return events
    }

    private static func thresholdField(_ type: AlertEventType) -> String? {
        switch type {
        case .consecutiveFailures: "count"
        case .late, .longRunning: "seconds"
        case .failed, .succeeded, .recovered, .skipped: nil
        }
    }

    private static func example(_ type: AlertEventType) -> String {
        switch type {
        case .consecutiveFailures: "{\"type\": \"consecutive_failures\", \"count\": 3}"
        case .late: "{\"type\": \"late\", \"seconds\": 300}"
        case .longRunning: "{\"type\": \"long_running\", \"seconds\": 3600}"
        default: "\"\(type.rawValue)\""
        }
    }
}
