import Foundation
import Logging
import PostgresNIO

extension AlertStore {
    /// Which alerts `alerts(_:)` answers, newest first.
    public struct HistoryFilter: Sendable {
        public var ruleId: Int64?
        public var workflowId: Int64?
        /// Alerts with a delivery to this channel.
        public var channelId: Int64?
        /// Alerts with a delivery in one of these states.
        public var deliveryStatuses: [AlertDeliveryStatus]?
        /// Only alerts with a smaller id (the next page).
        public var beforeId: Int64?
        public var limit = 50

        public init() {}
    }

    static let alertColumns = """
        a.id, a.rule_id, a.rule_name, a.workflow_id, a.workflow_name, a.execution_id, a.event, a.event_detail, a.held_back,
        a.message, a.created_at
        """

    static func alert(from row: PostgresRandomAccessRow) throws -> Alert {
        Alert(
            id: try row.column("id"),
            ruleId: try row.column("rule_id"),
            ruleName: try row.column("rule_name"),
            workflowId: try row.column("workflow_id"),
            workflowName: try row.column("workflow_name"),
            executionId: try row.column("execution_id"),
            event: AlertEventType(rawValue: try row.column("event")) ?? .failed,
            eventDetail: (try row.column("event_detail", as: Int32?.self)).map(Int.init),
            heldBack: Int(try row.column("held_back", as: Int32.self)),
            message: try row.column("message"),
            createdAt: try row.column("created_at"))
    }

    static func delivery(from row: PostgresRandomAccessRow) throws -> AlertDelivery {
        AlertDelivery(
            id: try row.column("id"),
            channelId: try row.column("channel_id"),
            channelName: try row.column("channel_name"),
            channelKind: try row.column("channel_kind"),
            status: AlertDeliveryStatus(rawValue: try row.column("status")) ?? .pending,
            attempts: Int(try row.column("attempts", as: Int32.self)),
            nextAttemptAt: try row.column("next_attempt_at"),
            deliveredAt: try row.column("delivered_at"),
            lastStatusCode: (try row.column("last_status_code", as: Int32?.self)).map(Int.init),
            lastError: try row.column("last_error"),
            idempotencyKey: try row.column("idempotency_key"))
    }

    /// Alerts, newest first, each with its deliveries (in id order).
    public func alerts(_ filter: HistoryFilter) async throws -> [Alert] {
        let statuses = filter.deliveryStatuses?.map(\.rawValue)
        let rows = try await client.rows(
            """
            SELECT \(unescaped: Self.alertColumns) FROM flowforge.alerts a
            WHERE (\(filter.ruleId)::bigint IS NULL OR a.rule_id = \(filter.ruleId))
              AND (\(filter.workflowId)::bigint IS NULL OR a.workflow_id = \(filter.workflowId))
              AND (\(filter.beforeId)::bigint IS NULL OR a.id < \(filter.beforeId))
              AND (\(filter.channelId)::bigint IS NULL OR EXISTS (
                  SELECT 1 FROM flowforge.alert_deliveries d WHERE d.alert_id = a.id AND d.channel_id = \(filter.channelId)))
              AND (\(statuses)::text[] IS NULL OR EXISTS (
                  SELECT 1 FROM flowforge.alert_deliveries d WHERE d.alert_id = a.id AND d.status = ANY(\(statuses)::text[])))
            ORDER BY a.id DESC
            LIMIT \(filter.limit)
            """, logger: logger)
        var alerts = try rows.collectRows(Self.alert(from:))
        let deliveries = try await self.deliveries(of: alerts.map(\.id))
        for index in alerts.indices { alerts[index].deliveries = deliveries[alerts[index].id] ?? [] }
        return alerts
    }

    /// One alert, each delivery with its attempts (oldest first).
    public func alert(id: Int64) async throws -> Alert? {
        let rows = try await client.rows("SELECT \(unescaped: Self.alertColumns) FROM flowforge.alerts a WHERE a.id = \(id)", logger: logger)
        guard var alert = try rows.collectRows(Self.alert(from:)).first else { return nil }
        alert.deliveries = try await deliveries(of: [id])[id] ?? []
        let attempts = try await client.rows(
            """
            SELECT delivery_id, attempt, started_at, duration_ms, outcome, status_code, response, error FROM flowforge.alert_attempts
            WHERE delivery_id = ANY(\(alert.deliveries.map(\.id))) ORDER BY delivery_id, attempt
            """, logger: logger
        ).collectRows { row in
            (
                try row.column("delivery_id", as: Int64.self),
                AlertAttempt(
                    attempt: Int(try row.column("attempt", as: Int32.self)),
                    startedAt: try row.column("started_at"),
                    durationMilliseconds: Int(try row.column("duration_ms", as: Int32.self)),
                    outcome: AlertAttemptOutcome(rawValue: try row.column("outcome")) ?? .failed,
                    statusCode: (try row.column("status_code", as: Int32?.self)).map(Int.init),
                    response: try row.column("response"),
                    error: try row.column("error"))
            )
        }
        let byDelivery = Dictionary(grouping: attempts, by: \.0).mapValues { $0.map(\.1) }
        for index in alert.deliveries.indices { alert.deliveries[index].attemptHistory = byDelivery[alert.deliveries[index].id] ?? [] }
        return alert
    }

    private func deliveries(of alertIds: [Int64]) async throws -> [Int64: [AlertDelivery]] {
        guard !alertIds.isEmpty else { return [:] }
        let rows = try await client.rows(
            """
            SELECT alert_id, id, channel_id, channel_name, channel_kind, status, attempts, next_attempt_at, delivered_at,
                last_status_code, last_error, idempotency_key
            FROM flowforge.alert_deliveries WHERE alert_id = ANY(\(alertIds)) ORDER BY alert_id, id
            """, logger: logger)
        let pairs = try rows.collectRows { row in (try row.column("alert_id", as: Int64.self), try Self.delivery(from: row)) }
        return Dictionary(grouping: pairs, by: \.0).mapValues { $0.map(\.1) }
    }
}
