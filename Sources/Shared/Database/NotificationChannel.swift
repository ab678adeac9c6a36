import Logging
import PostgresNIO

/// The LISTEN/NOTIFY channels FlowForge's processes speak on. A notification only wakes a
/// listener early; polling is what guarantees progress, so a lost one delays and never loses.
public enum NotificationChannel: String, Sendable, CaseIterable {
    /// A job may be due: a run was created, retried, released or rescued. Workers listen.
    case jobs = "flowforge_jobs"
    /// A run reached a final status; the payload is its id. The cascader listens.
    case executionFinished = "flowforge_execution_finished"
    /// A run was cancelled; the payload is its id. Workers stop its steps.
    case executionCancelled = "flowforge_execution_cancelled"
    /// A trigger was created, edited, enabled, disabled or deleted, or its workflow paused,
    /// resumed or deleted. The cron ticker and the file watcher listen.
    case triggersChanged = "flowforge_triggers_changed"
    /// An alert was raised (sql/014_alerts.sql's `raise_alert` sends it); the payload is its
    /// id. The scheduler's alert notifiers listen.
    case alerts = "flowforge_alerts"
}

extension NotificationChannel {
    /// Sends `payload` on this channel in the connection's transaction: listeners hear it when
    /// the transaction commits, and never if it rolls back.
    public func notify(_ payload: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify(\(rawValue), \(payload))", logger: logger)
    }

    /// Sends `payload` on this channel at once, in a statement of its own.
    public func notify(_ payload: String, on client: PostgresClient, logger: Logger) async throws {
        _ = try await client.rows("SELECT pg_notify(\(rawValue), \(payload))", logger: logger)
    }
}
