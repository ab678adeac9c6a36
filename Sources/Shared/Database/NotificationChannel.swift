/// The LISTEN/NOTIFY channels FlowForge's processes speak on. A notification only wakes a
/// listener early; polling is what guarantees progress, so a lost one delays and never loses.
public enum NotificationChannel: String, Sendable, CaseIterable {
    /// A job may be due: a run was created, retried, released or rescued. Workers listen.
    case jobs = "flowforge_jobs"
    /// A run reached a final status; the payload is its id. The cascader listens.
    case executionFinished = "flowforge_execution_finished"
    /// A run was cancelled; the payload is its id. Workers stop its steps.
    case executionCancelled = "flowforge_execution_cancelled"
    /// A trigger was created, edited, enabled, disabled or deleted. The cron ticker and the file
    /// watcher listen.
    case triggersChanged = "flowforge_triggers_changed"
}
