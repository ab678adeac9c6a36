@testable import FlowForgeAPI
@testable import FlowForgeShared
import Foundation

/// The alert answers and requests, for the contract tests (see `BodySamples`).
extension BodySamples {
    static func alertChannel(_ kind: AlertChannelKind, secret: String? = nil) -> AlertChannel {
        var settings: AlertChannelSettings
        switch kind {
        case .webhook: settings = .webhook(url: "http://127.0.0.1:9099/alerts")
        case .slack: settings = .slack(url: "https://hooks.slack.com/services/T000/B000/XXXX")
        case .email:
            settings = AlertChannelSettings()
            (settings.host, settings.port, settings.security, settings.username) = ("smtp.example.com", 587, .starttls, "u")
            (settings.from, settings.to, settings.caCertificate) = ("flowforge@example.com", ["a@example.com"], "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----")
        }
        var channel = AlertChannel(
            id: 3, name: "ops", kind: kind, settings: settings, hasSecret: kind != .email,
            rules: [AlertRuleRef(id: 1, name: "etl failures")], createdAt: now, updatedAt: later)
        channel.newSecret = secret
        return channel
    }

    static var alertRule: AlertRule {
        var events = AlertEvents()
        (events.failed, events.recovered, events.consecutiveFailures, events.lateSeconds, events.longRunningSeconds) = (true, true, 3, 300, 3600)
        (events.succeeded, events.skipped) = (true, true)
        return AlertRule(
            id: 1, name: "etl failures", allWorkflows: false, workflowIds: [1, 2], events: events,
            channels: [AlertChannelRef(id: 3, name: "ops", kind: .webhook)], throttleMinutes: 30, enabled: true,
            createdAt: now, updatedAt: later)
    }

    static func alert(withAttempts: Bool) -> Alert {
        let attempts = [
            AlertAttempt(attempt: 1, startedAt: now, durationMilliseconds: 12, outcome: .failed, statusCode: 503, response: "busy", error: "HTTP 503"),
            AlertAttempt(attempt: 2, startedAt: later, durationMilliseconds: 9, outcome: .delivered, statusCode: 200, response: nil, error: nil),
        ]
        return Alert(
            id: 5, ruleId: 1, ruleName: "etl failures", workflowId: 1, workflowName: "load", executionId: 9, event: .consecutiveFailures,
            eventDetail: 3, heldBack: 2, message: ["status": "failed", "error": "boom"], createdAt: now,
            deliveries: [
                AlertDelivery(
                    id: 7, channelId: 3, channelName: "ops", channelKind: "webhook", status: .delivered, attempts: 2, nextAttemptAt: now,
                    deliveredAt: later, lastStatusCode: 200, lastError: nil, idempotencyKey: UUID(), attemptHistory: withAttempts ? attempts : nil),
                AlertDelivery(
                    id: 8, channelId: nil, channelName: "gone", channelKind: "email", status: .pending, attempts: 0, nextAttemptAt: later,
                    deliveredAt: nil, lastStatusCode: nil, lastError: nil, idempotencyKey: UUID(), attemptHistory: withAttempts ? [] : nil),
            ])
    }

    static func alertAnswers(_ schemas: OpenAPISchemas) throws -> [(name: String, json: [UInt8], schema: YAMLNode?)] {
        func named(_ name: String, _ value: some Encodable) throws -> (String, [UInt8], YAMLNode?) {
            (name, try JSONBodyEncoder().encode(value), schemas.schema(name))
        }
        let webhook = alertChannel(.webhook, secret: "whsec_" + String(repeating: "ab", count: 32))
        return [
            try named("AlertChannel", AlertChannelBody(webhook)),
            try named("AlertChannel", AlertChannelBody(alertChannel(.slack))),
            try named("AlertChannel", AlertChannelBody(alertChannel(.email))),
            try named("AlertChannelList", AlertChannelListBody(alertChannels: AlertChannelKind.allCases.map { AlertChannelBody(alertChannel($0)) })),
            try named("AlertRule", AlertRuleBody(alertRule)),
            try named("AlertRuleList", AlertRuleListBody(alertRules: [AlertRuleBody(alertRule)])),
            try named("Alert", AlertBody(alert(withAttempts: true))),
            try named("AlertList", AlertListBody(alerts: [AlertBody(alert(withAttempts: false))], nextBeforeId: 5)),
            try named("AlertList", AlertListBody(alerts: [], nextBeforeId: nil)),
            try named(
                "AlertChannelTestResult",
                AlertChannelTestBody(AlertDeliveryResult(delivered: true, retryable: false, statusCode: 200, response: "ok", duration: .milliseconds(12)))),
            try named("AlertChannelTestResult", AlertChannelTestBody(.notSent("no key"))),
            (
                "alert channel rotate-secret", try JSONBodyEncoder().encode(AlertChannelBody(webhook)),
                schemas.response("/api/alert-channels/{id}/rotate-secret", "post", "200")
            ),
        ]
    }

    static func alertRequests(_ schemas: OpenAPISchemas) -> [(name: String, fields: [String], schema: YAMLNode?)] {
        [
            ("AlertChannelCreate", AlertChannelCreate.fieldNames, schemas.schema("AlertChannelCreate")),
            ("AlertChannelUpdate", AlertChannelUpdate.fieldNames, schemas.schema("AlertChannelUpdate")),
            ("AlertRuleCreate", AlertRuleCreate.fieldNames, schemas.schema("AlertRuleCreate")),
            ("AlertRuleUpdate", AlertRuleUpdate.fieldNames, schemas.schema("AlertRuleUpdate")),
        ]
    }
}
