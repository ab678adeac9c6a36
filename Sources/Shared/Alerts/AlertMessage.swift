import Foundation

/// One alert as every channel tells it: what happened, to which run, and where to look. Built
/// from an `alerts` row (the run as it was when the alert was raised) and the delivery's
/// idempotency key; a test message from the channel alone.
public struct AlertMessage: Sendable, Equatable {
    public var alertId: Int64?
    /// The same on every attempt of one delivery, so a receiver can drop a repeat.
    public var idempotencyKey: String
    /// `failed`, `succeeded`, `recovered`, `consecutive_failures`, `late`, `long_running`,
    /// `skipped`, or `test`.
    public var event: String
    /// The failures in a row (`consecutive_failures`), the failures before it (`recovered`), the
    /// rule's seconds (`late`, `long_running`).
    public var eventDetail: Int?
    public var rule: AlertRuleRef?
    public var workflowId: Int64?
    public var workflowName: String
    public var run: Run?
    /// Alerts of the same rule and workflow that the throttle held back since the last one.
    public var heldBack: Int
    /// The run's page in the web UI, when the public address is known.
    public var url: String?
    public var createdAt: Date
    public var isTest: Bool

    /// The run as the alert saw it.
    public struct Run: Sendable, Equatable {
        public var id: Int64
        public var status: String
        public var triggerType: String
        public var triggerName: String?
        public var scheduledFor: Date?
        public var startedAt: Date?
        public var finishedAt: Date?
        public var attempt: Int
        public var error: String?

        public init(
            id: Int64, status: String, triggerType: String, triggerName: String?, scheduledFor: Date?, startedAt: Date?,
            finishedAt: Date?, attempt: Int, error: String?
        ) {
            self.id = id
            self.status = status
            self.triggerType = triggerType
            self.triggerName = triggerName
            self.scheduledFor = scheduledFor
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.attempt = attempt
            self.error = error
        }

        /// Seconds from start to finish (or to `now` for a run still going).
        public func durationSeconds(now: Date) -> Double? {
            guard let startedAt else { return nil }
            return max(0, (finishedAt ?? now).timeIntervalSince(startedAt))
        }
    }

    public init(
        alertId: Int64?, idempotencyKey: String, event: String, eventDetail: Int?, rule: AlertRuleRef?, workflowId: Int64?,
        workflowName: String, run: Run?, heldBack: Int, url: String?, createdAt: Date, isTest: Bool = false
    ) {
        self.alertId = alertId
        self.idempotencyKey = idempotencyKey
        self.event = event
        self.eventDetail = eventDetail
        self.rule = rule
        self.workflowId = workflowId
        self.workflowName = workflowName
        self.run = run
        self.heldBack = heldBack
        self.url = url
        self.createdAt = createdAt
        self.isTest = isTest
    }

    /// What `POST /api/alert-channels/:id/test` sends: marked as a test, about no run.
    public static func test(now: Date = Date()) -> AlertMessage {
        AlertMessage(
            alertId: nil, idempotencyKey: UUID().uuidString.lowercased(), event: "test", eventDetail: nil, rule: nil,
            workflowId: nil, workflowName: "", run: nil, heldBack: 0, url: nil, createdAt: now, isTest: true)
    }

    /// The run's page: the UI's address for it under the public base URL.
    public static func runURL(base: String?, executionId: Int64?) -> String? {
        guard let base, let executionId else { return nil }
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return "\(trimmed)/#/executions/\(executionId)"
    }

    /// One line: "extract failed (run #12)", "extract failed 3 times in a row (run #14)".
    public var headline: String {
        if isTest { return "Test message from FlowForge" }
        let what: String
        switch event {
        case "failed": what = "failed"
        case "succeeded": what = "succeeded"
        case "recovered":
            what = eventDetail.map { "recovered after \($0) failure\($0 == 1 ? "" : "s")" } ?? "recovered"
        case "consecutive_failures": what = "failed \(eventDetail ?? 0) times in a row"
        case "late": what = "is late: not started \(Self.seconds(eventDetail)) after its scheduled time"
        case "long_running": what = "is running long: more than \(Self.seconds(eventDetail))"
        case "skipped": what = "was skipped"
        default: what = event
        }
        let run = run.map { " (run #\($0.id))" } ?? ""
        return "\(workflowName) \(what)\(run)"
    }

    /// The facts, one per line ("Status: failed"), in the order every channel shows them.
    public func facts(now: Date = Date()) -> [(label: String, value: String)] {
        if isTest {
            return [("Message", "This is a test message from FlowForge. The channel works.")]
        }
        var facts: [(String, String)] = []
        if let rule { facts.append(("Rule", rule.name)) }
        facts.append(("Workflow", workflowName))
        if let run {
            facts.append(("Status", run.status))
            facts.append(("Trigger", run.triggerName.map { "\($0) (\(run.triggerType))" } ?? run.triggerType))
            if let scheduledFor = run.scheduledFor { facts.append(("Scheduled for", Timestamp.format(scheduledFor))) }
            if let startedAt = run.startedAt { facts.append(("Started", Timestamp.format(startedAt))) }
            if let duration = run.durationSeconds(now: now) { facts.append(("Duration", Self.duration(duration))) }
            if run.attempt > 1 { facts.append(("Attempt", String(run.attempt))) }
            if let error = run.error, !error.isEmpty { facts.append(("Error", error)) }
        }
        if heldBack > 0 {
            facts.append(("Held back", "\(heldBack) earlier alert\(heldBack == 1 ? "" : "s") of this rule and workflow (throttle)"))
        }
        if let url { facts.append(("Run", url)) }
        return facts
    }

    /// The webhook's JSON body (see docs/alerts.md).
    public func json(now: Date = Date()) -> JSONValue {
        var execution: JSONValue = .null
        if let run {
            execution = [
                "id": .int(run.id), "status": .string(run.status), "trigger_type": .string(run.triggerType),
                "trigger_name": JSONValue(run.triggerName), "scheduled_for": JSONValue(run.scheduledFor),
                "started_at": JSONValue(run.startedAt), "finished_at": JSONValue(run.finishedAt),
                "duration_seconds": run.durationSeconds(now: now).map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
                "attempt": .int(Int64(run.attempt)), "error": JSONValue(run.error),
            ]
        }
        return [
            "alert_id": JSONValue(alertId), "idempotency_key": .string(idempotencyKey), "event": .string(event),
            "event_detail": JSONValue(eventDetail), "headline": .string(headline),
            "rule": rule.map { ["id": .int($0.id), "name": .string($0.name)] } ?? .null,
            "workflow": workflowId.map { ["id": .int($0), "name": .string(workflowName)] } ?? .null,
            "execution": execution, "held_back": .int(Int64(heldBack)), "url": JSONValue(url),
            "created_at": JSONValue(createdAt), "test": .bool(isTest),
        ]
    }

    /// "5 min", "1 h 30 min", "45 s".
    static func seconds(_ value: Int?) -> String { duration(Double(value ?? 0)) }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return seconds < 10 ? String(format: "%.1f s", seconds) : "\(Int(seconds)) s" }
        let total = Int(seconds.rounded())
        let hours = total / 3600, minutes = (total % 3600) / 60, rest = total % 60
        if hours > 0 { return minutes > 0 ? "\(hours) h \(minutes) min" : "\(hours) h" }
        return rest > 0 ? "\(minutes) min \(rest) s" : "\(minutes) min"
    }
}
