import Foundation

/// What saving a trigger decides besides the fields it was given: its name, its next run,
/// whether runs it already created ahead of their time still hold, and from when a file
/// trigger takes files. Decided here from the trigger as it was and as it will be;
/// `TriggerStore` only reads and writes.
public struct TriggerChange: Sendable, Equatable {
    public var name: String
    /// The name was made up from what the trigger does (and is made again when that changes).
    public var nameIsGenerated: Bool
    /// nil for a trigger that is off or not a schedule.
    public var nextRunAt: Date?
    /// Runs the trigger created early (the cron ticker creates them 10 s ahead) go: its schedule
    /// or its parameters changed (the ticker creates them again, with the new ones), or it was
    /// turned off or deleted.
    public var withdrawsUpcomingRuns: Bool
    /// A file-arrival trigger takes only the files that arrive from now on (no surprise backfill).
    public var takesFilesFromNow: Bool
    /// A join forgets the upstream finishes it has counted so far: its upstreams or condition
    /// changed, or it was turned off. It counts again from now, as a new join would.
    public var restartsJoin: Bool

    /// A new trigger, to be stored with id `id` (its schedule's jitter depends on it).
    public init(creating definition: TriggerDefinition, id: Int64, upstreamNames: [String], now: Date) {
        name = definition.name ?? Self.defaultName(for: definition, upstreamNames: upstreamNames)
        nameIsGenerated = definition.name == nil
        nextRunAt = definition.enabled ? definition.nextRun(after: now, triggerId: id) : nil
        withdrawsUpcomingRuns = false
        takesFilesFromNow = definition.eventType == .fileArrival
        restartsJoin = false
    }

    /// `current` edited into `definition`. A schedule keeps its next run unless what decides it
    /// changed, or the trigger was off.
    public init(editing current: Trigger, into definition: TriggerDefinition, upstreamNames: [String], now: Date) {
        name = definition.name ?? Self.defaultName(for: definition, upstreamNames: upstreamNames)
        nameIsGenerated = definition.name == nil
        let turnedOn = definition.enabled && !current.enabled
        let scheduleChanged = definition.cronExpression != current.cronExpression || definition.timezone != current.timezone
            || definition.scheduleOptions != current.scheduleOptions || turnedOn
        nextRunAt = definition.enabled ? (scheduleChanged ? definition.nextRun(after: now, triggerId: current.id) : current.nextRunAt) : nil
        withdrawsUpcomingRuns = scheduleChanged || !definition.enabled || definition.params != current.params
        takesFilesFromNow = definition.eventType == .fileArrival && (definition.eventConfig != current.eventConfig || turnedOn)
        restartsJoin = definition.upstreamIds != TriggerDefinition(current).upstreamIds
            || definition.dependencyCondition != current.dependencyCondition || !definition.enabled
    }

    /// `current` turned on or off. Turning on computes the next run from now: what fell due
    /// while it was off is not made up for.
    public init(enabling current: Trigger, _ enabled: Bool, now: Date) {
        name = current.name
        nameIsGenerated = current.nameIsGenerated
        nextRunAt = enabled ? TriggerDefinition(current).nextRun(after: now, triggerId: current.id) : nil
        withdrawsUpcomingRuns = !enabled
        takesFilesFromNow = enabled && !current.enabled && current.eventType == .fileArrival
        restartsJoin = !enabled
    }

    /// The name a trigger gets when none is given: what it does, in words.
    public static func defaultName(for definition: TriggerDefinition, upstreamNames: [String]) -> String {
        let name: String
        switch definition.type {
        case .scheduled:
            let description = definition.cronExpression.flatMap { try? CronExpression($0) }?.humanDescription
            name = description ?? "Schedule \(definition.cronExpression ?? "")"
        case .dependency:
            let condition = definition.dependencyCondition ?? .onSuccess
            name = upstreamNames.count > 1
                ? "After \(CronDescriber.joined(upstreamNames, conjunction: "and")) \(condition.pluralVerb)"
                : "After \(upstreamNames.first ?? "upstream") \(condition.verb)"
        case .event:
            name = definition.eventType == .fileArrival ? "File arrival" : "Webhook"
        }
        return String(name.prefix(Limits.nameLength))
    }
}

extension TriggerDefinition {
    /// The schedule of a scheduled trigger stored as `triggerId`; nil for other types or when
    /// the expression cannot be evaluated.
    public func schedule(triggerId: Int64?) -> TriggerSchedule? {
        guard type == .scheduled else { return nil }
        return TriggerSchedule(cron: cronExpression, timezone: timezone, options: scheduleOptions, triggerId: triggerId)
    }

    /// The first run after `date` of a scheduled trigger stored as `triggerId` (jitter and window
    /// applied); nil for other types, when the expression cannot be evaluated or when its active
    /// window has no run left.
    public func nextRun(after date: Date, triggerId: Int64?) -> Date? {
        schedule(triggerId: triggerId)?.next(after: date)?.instant
    }
}
