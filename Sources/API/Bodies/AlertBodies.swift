import FlowForgeShared
import Foundation

/// An alert channel as the API answers it (`AlertChannel`): the fields of its kind only, never
/// its secret; `secret` only in the answer that created or rotated a webhook's.
struct AlertChannelBody: Encodable {
    let channel: AlertChannel

    init(_ channel: AlertChannel) {
        self.channel = channel
    }

    enum CodingKeys: String, CodingKey {
        case caCertificate = "ca_certificate", createdAt = "created_at", from, host, id, kind, name
        case passwordSet = "password_set", port, rules, secret, security, to, updatedAt = "updated_at", url, username
    }

    func encode(to encoder: any Encoder) throws {
        let settings = channel.settings
        let email = channel.kind == .email
        var fields = encoder.container(keyedBy: CodingKeys.self)
        if email { try fields.encode(settings.caCertificate, forKey: .caCertificate) }
        try fields.encode(channel.createdAt, forKey: .createdAt)
        if email {
            try fields.encode(settings.from, forKey: .from)
            try fields.encode(settings.host, forKey: .host)
        }
        try fields.encode(channel.id, forKey: .id)
        try fields.encode(channel.kind.rawValue, forKey: .kind)
        try fields.encode(channel.name, forKey: .name)
        if email {
            try fields.encode(channel.hasSecret, forKey: .passwordSet)
            try fields.encode(settings.port, forKey: .port)
        }
        try fields.encode(channel.rules.map(AlertRuleRefBody.init), forKey: .rules)
        if channel.kind == .webhook { try fields.encodeIfPresent(channel.newSecret, forKey: .secret) }
        if email {
            try fields.encode((settings.security ?? .starttls).rawValue, forKey: .security)
            try fields.encode(settings.to ?? [], forKey: .to)
        }
        try fields.encode(channel.updatedAt, forKey: .updatedAt)
        switch channel.kind {
        case .webhook: try fields.encode(settings.url, forKey: .url)
        case .slack: try fields.encode(settings.slackURLHint ?? "…", forKey: .url)
        case .email: try fields.encode(settings.username, forKey: .username)
        }
    }
}

/// A rule named by id and name (`AlertRuleRef`).
struct AlertRuleRefBody: Encodable {
    let id: Int64
    let name: String

    init(_ ref: AlertRuleRef) {
        id = ref.id
        name = ref.name
    }
}

/// `GET /api/alert-channels` (`AlertChannelList`).
struct AlertChannelListBody: Encodable {
    let alertChannels: [AlertChannelBody]

    enum CodingKeys: String, CodingKey {
        case alertChannels = "alert_channels"
    }
}

/// One event a rule watches (`AlertEvent`): `{"type": "failed"}`, with `count` or `seconds`
/// for the events that take one.
struct AlertEventBody: Encodable {
    let type: AlertEventType
    let threshold: Int?

    enum CodingKeys: String, CodingKey {
        case count, seconds, type
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        if type == .consecutiveFailures { try fields.encode(threshold, forKey: .count) }
        if type == .late || type == .longRunning { try fields.encode(threshold, forKey: .seconds) }
        try fields.encode(type.rawValue, forKey: .type)
    }

    /// A rule's events in the fixed order answers list them.
    static func list(_ events: AlertEvents) -> [AlertEventBody] {
        events.types.map { AlertEventBody(type: $0, threshold: events.threshold($0)) }
    }
}

/// A channel as a rule lists it (`AlertChannelRef`).
struct AlertChannelRefBody: Encodable {
    let id: Int64
    let kind: String
    let name: String

    init(_ ref: AlertChannelRef) {
        id = ref.id
        kind = ref.kind.rawValue
        name = ref.name
    }
}

/// An alert rule as the API answers it (`AlertRule`).
struct AlertRuleBody: Encodable {
    let rule: AlertRule

    init(_ rule: AlertRule) {
        self.rule = rule
    }

    enum CodingKeys: String, CodingKey {
        case allWorkflows = "all_workflows", channelIds = "channel_ids", channels, createdAt = "created_at", enabled, events, id, name
        case throttleMinutes = "throttle_minutes", updatedAt = "updated_at", workflowIds = "workflow_ids"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(rule.allWorkflows, forKey: .allWorkflows)
        try fields.encode(rule.channels.map(\.id), forKey: .channelIds)
        try fields.encode(rule.channels.map(AlertChannelRefBody.init), forKey: .channels)
        try fields.encode(rule.createdAt, forKey: .createdAt)
        try fields.encode(rule.enabled, forKey: .enabled)
        try fields.encode(AlertEventBody.list(rule.events), forKey: .events)
        try fields.encode(rule.id, forKey: .id)
        try fields.encode(rule.name, forKey: .name)
        try fields.encode(rule.throttleMinutes, forKey: .throttleMinutes)
        try fields.encode(rule.updatedAt, forKey: .updatedAt)
        try fields.encode(rule.workflowIds, forKey: .workflowIds)
    }
}

/// `GET /api/alert-rules` (`AlertRuleList`).
struct AlertRuleListBody: Encodable {
    let alertRules: [AlertRuleBody]

    enum CodingKeys: String, CodingKey {
        case alertRules = "alert_rules"
    }
}

/// One attempt at a delivery (`AlertAttempt`).
struct AlertAttemptBody: Encodable {
    let attempt: AlertAttempt

    enum CodingKeys: String, CodingKey {
        case attempt, durationMilliseconds = "duration_ms", error, outcome, response, startedAt = "started_at", statusCode = "status_code"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(attempt.attempt, forKey: .attempt)
        try fields.encode(attempt.durationMilliseconds, forKey: .durationMilliseconds)
        try fields.encode(attempt.error, forKey: .error)
        try fields.encode(attempt.outcome.rawValue, forKey: .outcome)
        try fields.encode(attempt.response, forKey: .response)
        try fields.encode(attempt.startedAt, forKey: .startedAt)
        try fields.encode(attempt.statusCode, forKey: .statusCode)
    }
}

/// An alert's delivery to one channel (`AlertDelivery`); `attempt_history` only for one alert.
/// `next_attempt_at` is null once the delivery is done.
struct AlertDeliveryBody: Encodable {
    let delivery: AlertDelivery

    enum CodingKeys: String, CodingKey {
        case attemptHistory = "attempt_history", attempts, channelId = "channel_id", channelKind = "channel_kind"
        case channelName = "channel_name", deliveredAt = "delivered_at", id, idempotencyKey = "idempotency_key"
        case lastError = "last_error", lastStatusCode = "last_status_code", nextAttemptAt = "next_attempt_at", status
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encodeIfPresent(delivery.attemptHistory?.map(AlertAttemptBody.init), forKey: .attemptHistory)
        try fields.encode(delivery.attempts, forKey: .attempts)
        try fields.encode(delivery.channelId, forKey: .channelId)
        try fields.encode(delivery.channelKind, forKey: .channelKind)
        try fields.encode(delivery.channelName, forKey: .channelName)
        try fields.encode(delivery.deliveredAt, forKey: .deliveredAt)
        try fields.encode(delivery.id, forKey: .id)
        try fields.encode(delivery.idempotencyKey.uuidString.lowercased(), forKey: .idempotencyKey)
        try fields.encode(delivery.lastError, forKey: .lastError)
        try fields.encode(delivery.lastStatusCode, forKey: .lastStatusCode)
        let waiting = delivery.status == .pending || delivery.status == .sending
        try fields.encode(waiting ? delivery.nextAttemptAt : nil, forKey: .nextAttemptAt)
        try fields.encode(delivery.status.rawValue, forKey: .status)
    }
}

/// An alert as the API answers it (`Alert`).
struct AlertBody: Encodable {
    let alert: Alert

    init(_ alert: Alert) {
        self.alert = alert
    }

    enum CodingKeys: String, CodingKey {
        case createdAt = "created_at", deliveries, event, eventDetail = "event_detail", executionId = "execution_id"
        case heldBack = "held_back", id, message, ruleId = "rule_id", ruleName = "rule_name", workflowId = "workflow_id"
        case workflowName = "workflow_name"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(alert.createdAt, forKey: .createdAt)
        try fields.encode(alert.deliveries.map(AlertDeliveryBody.init), forKey: .deliveries)
        try fields.encode(alert.event.rawValue, forKey: .event)
        try fields.encode(alert.eventDetail, forKey: .eventDetail)
        try fields.encode(alert.executionId, forKey: .executionId)
        try fields.encode(alert.heldBack, forKey: .heldBack)
        try fields.encode(alert.id, forKey: .id)
        try fields.encode(alert.message, forKey: .message)
        try fields.encode(alert.ruleId, forKey: .ruleId)
        try fields.encode(alert.ruleName, forKey: .ruleName)
        try fields.encode(alert.workflowId, forKey: .workflowId)
        try fields.encode(alert.workflowName, forKey: .workflowName)
    }
}

/// `GET /api/alerts` (`AlertList`): a page of alerts, newest first.
struct AlertListBody: Encodable {
    let alerts: [AlertBody]
    let nextBeforeId: Int64?

    enum CodingKeys: String, CodingKey {
        case alerts, nextBeforeId = "next_before_id"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(alerts, forKey: .alerts)
        try fields.encode(nextBeforeId, forKey: .nextBeforeId)
    }
}

/// `POST /api/alert-channels/:id/test` (`AlertChannelTestResult`): what the receiver said.
struct AlertChannelTestBody: Encodable {
    let result: AlertDeliveryResult

    init(_ result: AlertDeliveryResult) {
        self.result = result
    }

    enum CodingKeys: String, CodingKey {
        case delivered, durationMilliseconds = "duration_ms", error, response, statusCode = "status_code"
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(result.delivered, forKey: .delivered)
        try fields.encode(result.durationMilliseconds, forKey: .durationMilliseconds)
        try fields.encode(result.error, forKey: .error)
        try fields.encode(result.response, forKey: .response)
        try fields.encode(result.statusCode, forKey: .statusCode)
    }
}
