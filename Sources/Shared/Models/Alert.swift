import Foundation

/// Where a delivery of an alert to one channel stands: waiting for its (next) attempt, being
/// sent by a notifier that holds its lease, or done either way.
public enum AlertDeliveryStatus: String, Sendable, Codable, CaseIterable {
    case pending, sending, delivered, failed
}

/// How one attempt at a delivery ended; `lost` when its notifier stopped before it recorded an answer.
public enum AlertAttemptOutcome: String, Sendable, Codable, CaseIterable {
    case delivered, failed, lost
}

/// One attempt at sending a delivery (`alert_attempts`).
public struct AlertAttempt: Sendable, Equatable {
    public var attempt: Int
    public var startedAt: Date
    public var durationMilliseconds: Int
    public var outcome: AlertAttemptOutcome
    public var statusCode: Int?
    /// What the receiver answered: the start of an HTTP body, an SMTP server's last reply.
    public var response: String?
    public var error: String?

    public init(
        attempt: Int, startedAt: Date, durationMilliseconds: Int, outcome: AlertAttemptOutcome, statusCode: Int?, response: String?,
        error: String?
    ) {
        self.attempt = attempt
        self.startedAt = startedAt
        self.durationMilliseconds = durationMilliseconds
        self.outcome = outcome
        self.statusCode = statusCode
        self.response = response
        self.error = error
    }
}

/// An alert on its way to one channel (`alert_deliveries`). The channel's name and kind are
/// copied, so the history outlives the channel.
public struct AlertDelivery: Sendable, Equatable {
    public var id: Int64
    public var channelId: Int64?
    public var channelName: String
    public var channelKind: String
    public var status: AlertDeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Date
    public var deliveredAt: Date?
    public var lastStatusCode: Int?
    public var lastError: String?
    public var idempotencyKey: UUID
    /// Read only for one alert (`GET /api/alerts/:id`), oldest first; nil in lists.
    public var attemptHistory: [AlertAttempt]?

    public init(
        id: Int64, channelId: Int64?, channelName: String, channelKind: String, status: AlertDeliveryStatus, attempts: Int,
        nextAttemptAt: Date, deliveredAt: Date?, lastStatusCode: Int?, lastError: String?, idempotencyKey: UUID,
        attemptHistory: [AlertAttempt]? = nil
    ) {
        self.id = id
        self.channelId = channelId
        self.channelName = channelName
        self.channelKind = channelKind
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.deliveredAt = deliveredAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.idempotencyKey = idempotencyKey
        self.attemptHistory = attemptHistory
    }
}

/// An alert a rule raised for a workflow's run (`alerts`), with its deliveries. Rule and
/// workflow names are copied: history outlives both.
public struct Alert: Sendable, Equatable {
    public var id: Int64
    public var ruleId: Int64?
    public var ruleName: String
    public var workflowId: Int64
    public var workflowName: String
    public var executionId: Int64?
    public var event: AlertEventType
    /// consecutive_failures: the failures in a row; recovered: the failures before it; late and
    /// long_running: the rule's seconds.
    public var eventDetail: Int?
    /// Alerts the rule's throttle held back since the one before this.
    public var heldBack: Int
    /// The run as it was when the alert was raised.
    public var message: JSONValue
    public var createdAt: Date
    public var deliveries: [AlertDelivery] = []

    public init(
        id: Int64, ruleId: Int64?, ruleName: String, workflowId: Int64, workflowName: String, executionId: Int64?,
        event: AlertEventType, eventDetail: Int?, heldBack: Int, message: JSONValue, createdAt: Date, deliveries: [AlertDelivery] = []
    ) {
        self.id = id
        self.ruleId = ruleId
        self.ruleName = ruleName
        self.workflowId = workflowId
        self.workflowName = workflowName
        self.executionId = executionId
        self.event = event
        self.eventDetail = eventDetail
        self.heldBack = heldBack
        self.message = message
        self.createdAt = createdAt
        self.deliveries = deliveries
    }
}
