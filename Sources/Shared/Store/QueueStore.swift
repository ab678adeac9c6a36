import Foundation
import Logging
import PostgresNIO

/// A run a worker has claimed: everything it needs to execute the steps.
public struct ClaimedRun: Sendable {
    public var executionId: Int64
    public var workflowId: Int64
    public var workflowName: String
    public var triggerId: Int64?
    public var triggerType: ExecutionTriggerType
    public var scheduledFor: Date?
    public var attempt: Int
    public var maxAttempts: Int
    public var retryBackoffSeconds: Int
    public var timeoutSeconds: Int
    public var upstreamExecutionId: Int64?
    public var upstreamStatus: String?
    public var steps: [Step]
}

/// What a worker reports when a run's attempt ends.
public struct RunOutcome: Sendable {
    public var executionId: Int64
    public var succeeded: Bool
    public var error: String?
    /// `[{"name","status","exit_code","started_at","finished_at","output"}]`
    public var steps: JSONValue

    public init(executionId: Int64, succeeded: Bool, error: String?, steps: JSONValue) {
        self.executionId = executionId
        self.succeeded = succeeded
        self.error = error
        self.steps = steps
    }
}

/// The job queue: claiming, leases and results. Every query of `jobs` the worker makes is here.
public struct QueueStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Claims up to `limit` due jobs in one statement: the oldest unlocked ones, skipping rows
    /// another worker holds, marks them leased to `workerID` and their runs `running`.
    public func claim(workerID: String, limit: Int, leaseSeconds: Int) async throws -> [ClaimedRun] {
        let rows = try await client.query(
            """
            WITH due AS (
                SELECT execution_id FROM flowforge.jobs
                WHERE locked_by IS NULL AND run_at <= now()
                ORDER BY run_at, execution_id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ), leased AS (
                UPDATE flowforge.jobs j
                SET locked_by = \(workerID), lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
                FROM due WHERE j.execution_id = due.execution_id
                RETURNING j.execution_id, j.attempt
            )
            UPDATE flowforge.executions e
            SET status = 'running', started_at = now(), worker_id = \(workerID), attempt = leased.attempt
            FROM leased, flowforge.workflows w
            WHERE e.id = leased.execution_id AND w.id = e.workflow_id
            RETURNING e.id, e.workflow_id, e.workflow_name, e.trigger_id, e.trigger_type, e.scheduled_for, e.attempt,
                e.upstream_execution_id,
                (SELECT u.status FROM flowforge.executions u WHERE u.id = e.upstream_execution_id) AS upstream_status,
                w.max_attempts, w.retry_backoff_seconds, w.timeout_seconds, w.steps
            """, logger: logger)
        return try await rows.collectRows { row in
            let stepsJSON = try row.column("steps", as: JSONValue.self)
            return ClaimedRun(
                executionId: try row.column("id"),
                workflowId: try row.column("workflow_id"),
                workflowName: try row.column("workflow_name"),
                triggerId: try row.column("trigger_id"),
                triggerType: ExecutionTriggerType(rawValue: try row.column("trigger_type")) ?? .manual,
                scheduledFor: try row.column("scheduled_for"),
                attempt: try row.column("attempt"),
                maxAttempts: try row.column("max_attempts"),
                retryBackoffSeconds: try row.column("retry_backoff_seconds"),
                timeoutSeconds: try row.column("timeout_seconds"),
                upstreamExecutionId: try row.column("upstream_execution_id"),
                upstreamStatus: try row.column("upstream_status"),
                steps: try (stepsJSON.arrayValue ?? []).map { value throws(FlowForgeError) in try Step(stored: value) })
        }
    }

    /// Extends the leases this worker still holds; returns the ids it still holds (a run that
    /// was cancelled or rescued meanwhile is missing, and its worker should stop it).
    public func renewLeases(workerID: String, executionIds: [Int64], leaseSeconds: Int) async throws -> Set<Int64> {
        guard !executionIds.isEmpty else { return [] }
        let rows = try await client.query(
            """
            UPDATE flowforge.jobs SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            WHERE execution_id = ANY(\(executionIds)) AND locked_by = \(workerID)
            RETURNING execution_id
            """, logger: logger)
        var held: Set<Int64> = []
        for try await id in rows.decode(Int64.self) { held.insert(id) }
        return held
    }

    /// Records an attempt's end. A failure with attempts left goes back to the queue after the
    /// workflow's backoff; anything else is final: the job leaves the queue and the cascader is
    /// told. Only the lease holder's result counts, so a worker that lost its lease (paused,
    /// cut off) cannot overwrite what happened since.
    public func finish(_ outcome: RunOutcome, workerID: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            let retried = try await connection.query(
                """
                WITH job AS (
                    UPDATE flowforge.jobs j
                    SET locked_by = NULL, lease_expires_at = NULL, attempt = j.attempt + 1,
                        run_at = now() + make_interval(secs => w.retry_backoff_seconds)
                    FROM flowforge.executions e, flowforge.workflows w
                    WHERE j.execution_id = \(outcome.executionId) AND j.locked_by = \(workerID) AND NOT \(outcome.succeeded)
                      AND e.id = j.execution_id AND e.status = 'running' AND w.id = e.workflow_id AND j.attempt < w.max_attempts
                    RETURNING j.execution_id, j.attempt
                )
                UPDATE flowforge.executions e
                SET status = 'queued', attempt = job.attempt, error = \(outcome.error), steps = \(outcome.steps),
                    worker_id = NULL
                FROM job WHERE e.id = job.execution_id
                RETURNING e.id
                """, logger: logger)
            var wasRetried = false
            for try await _ in retried { wasRetried = true }
            if wasRetried {
                try await connection.query("SELECT pg_notify('flowforge_jobs', \(String(outcome.executionId)))", logger: logger)
                return
            }
            let status = outcome.succeeded ? ExecutionStatus.completed : .failed
            let finished = try await connection.query(
                """
                WITH job AS (
                    DELETE FROM flowforge.jobs WHERE execution_id = \(outcome.executionId) AND locked_by = \(workerID)
                    RETURNING execution_id
                )
                UPDATE flowforge.executions e
                SET status = \(status.rawValue), finished_at = now(), error = \(outcome.error), steps = \(outcome.steps)
                FROM job WHERE e.id = job.execution_id AND e.status = 'running'
                RETURNING e.id
                """, logger: logger)
            for try await id in finished.decode(Int64.self) {
                try await connection.query("SELECT pg_notify('flowforge_execution_finished', \(String(id)))", logger: logger)
            }
        }
    }

    /// Gives claimed jobs back without spending an attempt (a worker shutting down).
    public func release(executionIds: [Int64], workerID: String) async throws {
        guard !executionIds.isEmpty else { return }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                WITH job AS (
                    UPDATE flowforge.jobs SET locked_by = NULL, lease_expires_at = NULL
                    WHERE execution_id = ANY(\(executionIds)) AND locked_by = \(workerID)
                    RETURNING execution_id
                )
                UPDATE flowforge.executions e SET status = 'queued', started_at = NULL, worker_id = NULL
                FROM job WHERE e.id = job.execution_id AND e.status = 'running'
                """, logger: logger)
            try await connection.query("SELECT pg_notify('flowforge_jobs', 'released')", logger: logger)
        }
    }

    /// When the next job not yet due becomes due; nil when none waits.
    public func nextRunAt() async throws -> Date? {
        let rows = try await client.query("SELECT min(run_at) FROM flowforge.jobs WHERE locked_by IS NULL", logger: logger)
        for try await date in rows.decode(Date?.self) { return date }
        return nil
    }
}
