import Foundation

/// What an alert rule watches for. The raw values are the API's and `alerts.event`'s words.
public enum AlertEventType: String, Sendable, Codable, CaseIterable {
    case failed, succeeded, recovered
    case consecutiveFailures = "consecutive_failures"
    case late
    case longRunning = "long_running"
    case skipped
}

/// The events a rule watches, as `alert_rules` stores them: a flag for each plain event, a
/// threshold for each that needs one (nil: not watched).
public struct AlertEvents: Sendable, Equatable {
    public var failed = false
    public var succeeded = false
    public var recovered = false
    public var skipped = false
    /// Failures in a row (1–10000) that raise one alert.
    public var consecutiveFailures: Int?
    /// Seconds (1–604800) a scheduled run may wait past its time before it counts as late.
    public var lateSeconds: Int?
    /// Seconds (1–604800) a run may run before it counts as long-running.
    public var longRunningSeconds: Int?

    public init() {}

    public static let countRange = 1...10_000
    public static let secondsRange = 1...604_800

    /// The events watched, in the fixed order answers list them.
    public var types: [AlertEventType] {
        AlertEventType.allCases.filter(contains)
    }

    public var isEmpty: Bool { types.isEmpty }

    public func contains(_ type: AlertEventType) -> Bool {
        switch type {
        case .failed: failed
        case .succeeded: succeeded
        case .recovered: recovered
        case .skipped: skipped
        case .consecutiveFailures: consecutiveFailures != nil
        case .late: lateSeconds != nil
        case .longRunning: longRunningSeconds != nil
        }
    }

    /// The count or seconds an event is watched with; nil for the plain events.
    public func threshold(_ type: AlertEventType) -> Int? {
        switch type {
        case .consecutiveFailures: consecutiveFailures
        case .late: lateSeconds
        case .longRunning: longRunningSeconds
        case .failed, .succeeded, .recovered, .skipped: nil
        }
    }
}

/// A channel named by id, name and kind, as a rule's answer lists its channels.
public struct AlertChannelRef: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: AlertChannelKind

    public init(id: Int64, name: String, kind: AlertChannelKind) {
        self.id = id
        self.name = name
        self.kind = kind
    }
}

/// The fields a user sets on an alert rule, validated; what create and update write. Which
/// workflows and channels exist is checked by the store, inside the write's transaction.
public struct AlertRuleDefinition: Sendable, Equatable {
    public var name: String
    /// Every workflow, now and later; `workflowIds` is then empty.
    public var allWorkflows: Bool
    public var workflowIds: [Int64]
    public var events: AlertEvents
    public var channelIds: [Int64]
    public var throttleMinutes: Int = 0
    public var enabled: Bool = true

    public static let throttleRange = 0...10_080
    public static let maxChannels = 20
    public static let maxWorkflows = 1_000

    public init(
        name: String, allWorkflows: Bool, workflowIds: [Int64], events: AlertEvents, channelIds: [Int64],
        throttleMinutes: Int = 0, enabled: Bool = true
    ) {
        self.name = name
        self.allWorkflows = allWorkflows
        self.workflowIds = workflowIds
        self.events = events
        self.channelIds = channelIds
        self.throttleMinutes = throttleMinutes
        self.enabled = enabled
    }

    public init(_ rule: AlertRule) {
        self.init(
            name: rule.name, allWorkflows: rule.allWorkflows, workflowIds: rule.workflowIds, events: rule.events,
            channelIds: rule.channels.map(\.id), throttleMinutes: rule.throttleMinutes, enabled: rule.enabled)
    }
}

/// A stored alert rule: which workflows' runs it watches, for which events, and where it sends.
public struct AlertRule: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var allWorkflows: Bool
    /// The workflows it covers (empty when `allWorkflows`); a deleted workflow leaves the list.
    public var workflowIds: [Int64]
    public var events: AlertEvents
    public var channels: [AlertChannelRef]
    public var throttleMinutes: Int
    public var enabled: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64, name: String, allWorkflows: Bool, workflowIds: [Int64], events: AlertEvents, channels: [AlertChannelRef],
        throttleMinutes: Int, enabled: Bool, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.allWorkflows = allWorkflows
        self.workflowIds = workflowIds
        self.events = events
        self.channels = channels
        self.throttleMinutes = throttleMinutes
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
