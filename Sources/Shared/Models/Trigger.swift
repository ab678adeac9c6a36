import Foundation

/// A stored trigger: what starts a workflow besides a person.
public struct Trigger: Sendable, Equatable {
    public var id: Int64
    public var workflowId: Int64
    public var type: TriggerType
    public var enabled: Bool
    public var name: String
    /// True when FlowForge made the name up ("At 02:00"); it follows later edits then.
    public var nameIsGenerated: Bool
    public var cronExpression: String?
    public var timezone: String
    public var nextRunAt: Date?
    public var lastRunAt: Date?
    public var misfirePolicy: MisfirePolicy
    /// Jitter, active window and DST policy of a scheduled trigger.
    public var scheduleOptions = ScheduleOptions()
    /// The first upstream of a dependency trigger (its only one, unless it is a join).
    public var dependsOnWorkflowId: Int64?
    /// Filled by reads that join the upstream workflow; not stored.
    public var dependsOnWorkflowName: String?
    public var dependencyCondition: DependencyCondition?
    public var delayMinutes: Int
    public var eventType: EventType?
    public var eventConfig: JSONValue?
    public var createdAt: Date
    public var updatedAt: Date
    /// A webhook trigger's secret, only in the answer that created or rotated it; never stored
    /// in the clear, never shown again.
    public var newSecret: String? = nil
    /// Every upstream of a dependency trigger, in the order given; more than one makes it a
    /// join, which fires once each of them has finished (see `JoinPlan`).
    public var upstreams: [WorkflowRef] = []
    /// Parameters every run the trigger creates gets (`RunParams`); nil for none.
    public var params: JSONValue? = nil

    /// Where a webhook trigger receives its events, relative to the API's address.
    public var webhookPath: String? { type == .event && eventType == .webhook ? "/api/hooks/\(id)" : nil }


    /// The plain-English reading of the cron expression, for scheduled triggers.
    public var scheduleDescription: String? {
        guard type == .scheduled, let cronExpression else { return nil }
        return (try? CronExpression(cronExpression))?.humanDescription
    }
}

/// The fields a user sets on a trigger, validated and merged; what create and update write.
public struct TriggerDefinition: Sendable, Equatable {
    public var type: TriggerType
    public var enabled: Bool = true
    /// nil: a name is derived from the rest ("At 02:00", "After extract succeeds").
    public var name: String?
    public var cronExpression: String?
    public var timezone: String = "UTC"
    public var misfirePolicy: MisfirePolicy = .runOnce
    public var scheduleOptions = ScheduleOptions()
    /// A dependency trigger's upstreams, in the order given; two or more make it a join.
    public var upstreamIds: [Int64] = []
    public var dependencyCondition: DependencyCondition?
    public var delayMinutes: Int = 0
    public var eventType: EventType?
    public var eventConfig: JSONValue?
    /// A new webhook trigger's secret, sealed by the API (`SecretBox`); written with the trigger.
    public var sealedSecret: [UInt8]?
    /// Parameters for the runs it creates (`RunParams.check`ed); nil for none.
    public var params: JSONValue?

    public init(type: TriggerType) {
        self.type = type
    }

    public init(_ trigger: Trigger) {
        type = trigger.type
        enabled = trigger.enabled
        name = trigger.name
        cronExpression = trigger.cronExpression
        timezone = trigger.timezone
        misfirePolicy = trigger.misfirePolicy
        scheduleOptions = trigger.scheduleOptions
        upstreamIds = trigger.upstreams.isEmpty ? trigger.dependsOnWorkflowId.map { [$0] } ?? [] : trigger.upstreams.map(\.id)
        dependencyCondition = trigger.dependencyCondition
        delayMinutes = trigger.delayMinutes
        eventType = trigger.eventType
        eventConfig = trigger.eventConfig
        params = trigger.params
    }
}

extension TriggerDefinition {
    /// The first upstream, the single-upstream form of `upstreamIds`.
    public var dependsOnWorkflowId: Int64? {
        get { upstreamIds.first }
        set { upstreamIds = newValue.map { [$0] } ?? [] }
    }
}
