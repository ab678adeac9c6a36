import FlowForgeShared
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The notifier's queries: claim due deliveries, record each attempt. Deliveries are rows of
/// `alert_deliveries` (sql/014_alerts.sql), one per alert and channel. A claim leases them to
/// one notifier; a notifier that dies mid-send leaves its lease to run out, and the next claim
/// records that attempt as `lost` and tries again with the same idempotency key.
struct AlertDeliveryStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// A delivery claimed for one attempt, with its alert and its channel as stored.
    struct Claimed: Sendable {
        var deliveryId: Int64
        /// This attempt's number, from 1.
        var attempt: Int
        var idempotencyKey: String
        var alertId: Int64
        var raisedAt: Date
        /// nil when the channel was deleted after the alert was raised.
        var channel: AlertChannel?
        var sealedSecret: [UInt8]?
        var channelKind: AlertChannelKind
        var rule: AlertRuleRef?
        var workflowId: Int64
        var workflowName: String
        var executionId: Int64?
        var event: String
        var eventDetail: Int?
        var heldBack: Int
        /// The run as the alert saw it (`flowforge.alert_message`).
        var run: JSONValue

        /// The message every channel sends for this alert.
        func message(publicURL: String?) -> AlertMessage {
            AlertMessage(
                alertId: alertId, idempotencyKey: idempotencyKey, event: event, eventDetail: eventDetail, rule: rule,
                workflowId: workflowId, workflowName: workflowName, run: executionId.map { id in Self.run(id: id, from: run) },
                heldBack: heldBack, url: AlertMessage.runURL(base: publicURL, executionId: executionId), createdAt: raisedAt)
        }

        static func run(id: Int64, from json: JSONValue) -> AlertMessage.Run {
            func date(_ key: String) -> Date? { json[key]?.stringValue.flatMap(Timestamp.parse) }
            return AlertMessage.Run(
                id: id, status: json["status"]?.stringValue ?? "", triggerType: json["trigger_type"]?.stringValue ?? "",
                triggerName: json["trigger_name"]?.stringValue, scheduledFor: date("scheduled_for"), startedAt: date("started_at"),
                finishedAt: date("finished_at"), attempt: Int(json["attempt"]?.intValue ?? 1), error: json["error"]?.stringValue)
        }
    }

    /// Leases up to `limit` deliveries that are due (pending and their time come, or sending
    /// under a lease that ran out) to `notifierID` until `now + lease`, in one statement.
    /// `now` is the notifier's clock, so that tests can move time.
    func claim(notifierID: String, limit: Int, now: Date, lease: Duration) async throws -> [Claimed] {
        let leaseSeconds = lease.seconds
        let rows = try await client.rows(
            """
            WITH pending AS (
                SELECT id FROM flowforge.alert_deliveries
                WHERE status = 'pending' AND next_attempt_at <= \(now)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            ), expired AS (
                SELECT id FROM flowforge.alert_deliveries
                WHERE status = 'sending' AND lease_expires_at <= \(now)
                ORDER BY lease_expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            ), due AS (
                (SELECT id FROM expired) UNION ALL (SELECT id FROM pending) LIMIT \(limit)
            ), lost AS (
                -- While sending, next_attempt_at holds the attempt's start.
                INSERT INTO flowforge.alert_attempts (delivery_id, attempt, started_at, duration_ms, outcome, error, notifier_id)
                SELECT d.id, d.attempts, d.next_attempt_at,
                       (extract(epoch FROM d.lease_expires_at - d.next_attempt_at) * 1000)::integer, 'lost',
                       'the notifier sending it stopped before it recorded an answer', d.notifier_id
                FROM flowforge.alert_deliveries d WHERE d.id = ANY(ARRAY(SELECT id FROM due)) AND d.status = 'sending'
                ON CONFLICT DO NOTHING
            ), claimed AS (
                UPDATE flowforge.alert_deliveries d
                SET status = 'sending', attempts = d.attempts + 1, next_attempt_at = \(now),
                    lease_expires_at = \(now) + make_interval(secs => \(leaseSeconds)), notifier_id = \(notifierID)
                WHERE d.id = ANY(ARRAY(SELECT id FROM due))
                RETURNING d.id, d.alert_id, d.channel_id, d.channel_kind, d.attempts, d.idempotency_key
            )
            SELECT c.id, c.attempts, c.idempotency_key::text AS idempotency_key, c.channel_kind,
                   ch.id AS channel_id, ch.name AS channel_name, ch.settings::text AS settings, ch.sealed_secret,
                   ch.created_at AS channel_created_at, ch.updated_at AS channel_updated_at,
                   a.id AS alert_id, a.created_at, a.rule_id, a.rule_name, a.workflow_id, a.workflow_name, a.execution_id,
                   a.event, a.event_detail, a.held_back, a.message::text AS message
            FROM claimed c
            JOIN flowforge.alerts a ON a.id = c.alert_id
            LEFT JOIN flowforge.alert_channels ch ON ch.id = c.channel_id
            ORDER BY a.id
            """, logger: logger)
        return try rows.map { row in try Self.claimed(from: row.makeRandomAccess()) }
    }

    static func claimed(from row: PostgresRandomAccessRow) throws -> Claimed {
        let kind = AlertChannelKind(rawValue: try row.column("channel_kind", as: String.self)) ?? .webhook
        var channel: AlertChannel?
        var sealed: [UInt8]?
        if let channelId = try row.column("channel_id", as: Int64?.self) {
            let settingsText = try row.column("settings", as: String.self)
            let settings = (try? JSONDecoder().decode(AlertChannelSettings.self, from: Data(settingsText.utf8))) ?? AlertChannelSettings()
            let secret = try row.column("sealed_secret", as: ByteBuffer?.self)
            sealed = secret.map { Array($0.readableBytesView) }
            channel = AlertChannel(
                id: channelId, name: try row.column("channel_name"), kind: kind, settings: settings, hasSecret: sealed != nil,
                createdAt: try row.column("channel_created_at"), updatedAt: try row.column("channel_updated_at"))
        }
        let ruleId = try row.column("rule_id", as: Int64?.self)
        let messageText = try row.column("message", as: String.self)
        return Claimed(
            deliveryId: try row.column("id"), attempt: Int(try row.column("attempts", as: Int32.self)),
            idempotencyKey: try row.column("idempotency_key"), alertId: try row.column("alert_id"), raisedAt: try row.column("created_at"),
            channel: channel, sealedSecret: sealed, channelKind: kind,
            rule: ruleId.map { AlertRuleRef(id: $0, name: (try? row.column("rule_name", as: String.self)) ?? "") },
            workflowId: try row.column("workflow_id"), workflowName: try row.column("workflow_name"),
            executionId: try row.column("execution_id"), event: try row.column("event"),
            eventDetail: try row.column("event_detail", as: Int32?.self).map(Int.init),
            heldBack: Int(try row.column("held_back", as: Int32.self)),
            run: (try? JSONValue.parse(Array(messageText.utf8))) ?? .null)
    }

    /// Records attempt `attempt` of a delivery and what follows it. Only the lease holder's
    /// record moves the delivery on: a notifier whose lease ran out (and whose attempt another
    /// notifier has since taken over) adds its attempt to the history and changes nothing else.
    /// Returns whether the delivery was still this notifier's.
    @discardableResult
    func record(
        _ delivery: Claimed, notifierID: String, result: AlertDeliveryResult, startedAt: Date, decision: AlertRetryPolicy.Decision,
        now: Date
    ) async throws -> Bool {
        let status: String
        var next: Date?
        switch decision {
        case .delivered: status = "delivered"
        case .failed: status = "failed"
        case .retry(let at):
            status = "pending"
            next = at
        }
        let outcome = result.delivered ? "delivered" : "failed"
        let error = result.error.map { String($0.prefix(2000)) }
        let code = result.statusCode
        let rows = try await client.rows(
            """
            WITH attempt AS (
                INSERT INTO flowforge.alert_attempts
                    (delivery_id, attempt, started_at, duration_ms, outcome, status_code, response, error, notifier_id)
                VALUES (\(delivery.deliveryId), \(delivery.attempt), \(startedAt), \(result.durationMilliseconds), \(outcome), \(code),
                        \(result.response), \(error), \(notifierID))
                ON CONFLICT DO NOTHING
            )
            UPDATE flowforge.alert_deliveries
            SET status = \(status), next_attempt_at = coalesce(\(next), next_attempt_at), lease_expires_at = NULL,
                last_status_code = \(code), last_error = \(error),
                delivered_at = CASE WHEN \(status) = 'delivered' THEN \(now) END
            WHERE id = \(delivery.deliveryId) AND status = 'sending' AND attempts = \(delivery.attempt) AND notifier_id = \(notifierID)
            RETURNING id
            """, logger: logger)
        return !rows.isEmpty
    }

    /// When the next delivery comes due: the earliest pending one's time, or the earliest
    /// lease to run out. nil when there is none.
    func nextDue() async throws -> Date? {
        let rows = try await client.rows(
            """
            SELECT least(
                (SELECT min(next_attempt_at) FROM flowforge.alert_deliveries WHERE status = 'pending'),
                (SELECT min(lease_expires_at) FROM flowforge.alert_deliveries WHERE status = 'sending'))
            """, logger: logger)
        return try rows.first?.decode(Date?.self)
    }
}
