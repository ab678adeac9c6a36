/// Bounds on what one request may store. Each is reported as a clear 400 when exceeded.
public enum Limits {
    public static let nameLength = 200
    public static let descriptionLength = 10_000
    public static let stepsPerWorkflow = 100
    public static let stepNameLength = 100
    public static let argumentsPerCommand = 1_000
    public static let argumentLength = 16_384
    public static let environmentEntries = 200
    public static let environmentValueLength = 16_384
    public static let headerEntries = 100
    public static let urlLength = 4_096
    public static let httpBodyLength = 1_048_576
    public static let triggersPerWorkflow = 100
    /// Upstreams of one dependency trigger (a join).
    public static let joinUpstreams = 20
    public static let cronLength = 200
    public static let eventConfigBytes = 16_384
    public static let pageSize = 200
    /// A webhook's body; larger ones get 413.
    public static let webhookBodyBytes = 1_048_576
    /// A webhook's JSON is shown on its run up to this size; steps always get the whole body.
    public static let eventJSONBytes = 65_536
    /// Runs one backfill call may create; a longer range is backfilled in several calls.
    public static let maxBackfillRuns = 10_000
    /// Seven days: longer-running steps belong outside a scheduler.
    public static let timeoutSeconds = 604_800
}
