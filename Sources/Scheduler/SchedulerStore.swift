import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

/// The scheduler's queries: due cron triggers, the dependency cascade and lease rescue. Each
/// claims its rows with SKIP LOCKED, and every run it creates is protected by a unique key, so
/// any number of scheduler replicas may run these at once.
public struct SchedulerStore: Sendable {
    let client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics?

    public init(client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics? = nil) {
        (self.client, self.logger, self.metrics) = (client, logger, metrics)
    }

    /// Whether trigger `t`'s workflow is paused: then its schedule waits where it is, and on
    /// resume `FirePlan`'s misfire policy judges what it missed.
    static let pausedWorkflow = "EXISTS (SELECT 1 FROM flowforge.workflows pw WHERE pw.id = t.workflow_id AND pw.paused_at IS NOT NULL)"

    /// Enabled scheduled triggers due by $1, at most $2, locked for this transaction.
    static let dueTriggersSQL = """
        SELECT t.id, t.cron_expression, t.timezone, t.next_run_at, t.misfire_policy
        FROM flowforge.workflow_triggers t
        WHERE t.enabled AND t.trigger_type = 'scheduled' AND t.next_run_at <= $1 AND NOT \(pausedWorkflow)
        ORDER BY t.next_run_at
        LIMIT $2
        FOR UPDATE OF t SKIP LOCKED
        """

    /// How far ahead of their time the cron ticker creates scheduled runs. A run created early
    /// waits in the queue with `run_at` = its `scheduled_for`, and the workers, which sleep
    /// until the earliest `run_at`, start it on the minute: creating 10,000 runs takes a couple
    /// of seconds on a small machine, and that time is spent before the minute, not after it.
    /// A trigger that is disabled, deleted or given a new schedule withdraws its early runs
    /// (`RunEnqueue.withdrawUpcoming`).
    public static let defaultLookahead: TimeInterval = 10

    /// A scheduled trigger whose `next_run_at` has come (within the look-ahead).
    struct DueTrigger: Sendable {
        var id: Int64, cron: String, timezone: String, nextRunAt: Date, misfire: MisfirePolicy
    }

    /// Locks the enabled scheduled triggers due by `horizon` (at most `limit`), asks `plan` for
    /// each one's runs and next time, and writes them all in the same transaction with two
    /// statements (the cost of a minute with thousands of due triggers is a few round trips).
    /// A trigger `plan` cannot plan (nil) is switched off. Returns how many runs it created.
    func fireDueTriggers(dueBy horizon: Date, limit: Int, now: Date, plan: @escaping @Sendable (DueTrigger) -> FirePlan?) async throws -> Int {
        let created = try await client.withOpenTransaction(logger: logger) { connection in
            var dueQuery = PostgresQuery(unsafeSQL: Self.dueTriggersSQL)
            dueQuery.binds.append(horizon)
            dueQuery.binds.append(limit)
            let due = try await connection.query(dueQuery, logger: logger).collectRows { row in
                DueTrigger(
                    id: try row.column("id"), cron: try row.column("cron_expression"), timezone: try row.column("timezone"),
                    nextRunAt: try row.column("next_run_at"),
                    misfire: MisfirePolicy(rawValue: try row.column("misfire_policy")) ?? .runOnce)
            }
            var runTriggers: [Int64] = [], runTimes: [Date] = []
            var advanced: [Int64] = [], nextTimes: [Date] = [], hasNext: [Bool] = [], lastTimes: [Date] = [], hasLast: [Bool] = []
            var broken: [Int64] = []
            for trigger in due {
                guard let fire = plan(trigger) else {
                    broken.append(trigger.id)
                    continue
                }
                runTriggers += Array(repeating: trigger.id, count: fire.runs.count)
                runTimes += fire.runs
                advanced.append(trigger.id)
                nextTimes.append(fire.next ?? now)
                hasNext.append(fire.next != nil)
                lastTimes.append(fire.runs.last ?? now)
                hasLast.append(fire.runs.last != nil)
            }
            if !broken.isEmpty {
                try await connection.query(
                    "UPDATE flowforge.workflow_triggers SET enabled = false, next_run_at = NULL WHERE id = ANY(\(broken))",
                    logger: logger)
            }
            var created = 0
            if !runTriggers.isEmpty {
                let inserted = try await connection.query(
                    """
                    WITH wanted AS (
                        SELECT t.workflow_id, w.name AS workflow_name, t.id AS trigger_id, t.trigger_name, r.at AS scheduled_for,
                            NULL::bigint AS upstream_execution_id, \(now)::timestamptz AS queued_at
                        FROM unnest(\(runTriggers)::bigint[], \(runTimes)::timestamptz[]) AS r(trigger_id, at)
                        JOIN flowforge.workflow_triggers t ON t.id = r.trigger_id
                        JOIN flowforge.workflows w ON w.id = t.workflow_id
                        ORDER BY r.at, t.id
                    ), \(unescaped: RunEnqueue.ctes(.scheduled))
                    SELECT execution_id FROM run_job
                    """, logger: logger)
                for try await _ in inserted { created += 1 }
            }
            if !advanced.isEmpty {
                try await connection.query(
                    """
                    UPDATE flowforge.workflow_triggers t
                    SET next_run_at = CASE WHEN u.has_next THEN u.next END,
                        last_run_at = CASE WHEN u.has_last THEN u.last ELSE t.last_run_at END
                    FROM unnest(\(advanced)::bigint[], \(nextTimes)::timestamptz[], \(hasNext)::boolean[],
                                \(lastTimes)::timestamptz[], \(hasLast)::boolean[]) AS u(id, next, has_next, last, has_last)
                    WHERE t.id = u.id
                    """, logger: logger)
            }
            if created > 0 { try await NotificationChannel.jobs.notify("scheduled", on: connection, logger: logger) }
            return created
        }
        metrics?.runsCreated(created, triggerType: .scheduled)
        return created
    }

    /// `DatabaseURL.queueWorkerPlannerSettings` for the rest of the transaction.
    static let queuePlannerSettingsSQL = "SELECT "
        + DatabaseURL.queueWorkerPlannerSettings.map { "set_config('\($0.0)', '\($0.1)', true)" }.joined(separator: ", ")

    /// The cascade of up to $1 finished runs (see `cascade`).
    static let cascadeSQL = """
        WITH taken AS (
            DELETE FROM flowforge.cascade_backlog b
            WHERE b.execution_id = ANY(ARRAY(
                SELECT execution_id FROM flowforge.cascade_backlog ORDER BY finished_at LIMIT $1 FOR UPDATE SKIP LOCKED))
            RETURNING b.execution_id
        ), finished AS (
            SELECT e.id, e.workflow_id, e.status, e.finished_at FROM flowforge.executions e
            WHERE e.id = ANY(ARRAY(SELECT execution_id FROM taken)) AND e.status IN ('completed', 'failed')
        ), marked AS (
            UPDATE flowforge.executions e SET cascaded_at = now() WHERE e.id = ANY(ARRAY(SELECT execution_id FROM taken))
        ), wanted AS (
            SELECT t.workflow_id, w.name AS workflow_name, t.id AS trigger_id, t.trigger_name,
                f.finished_at + make_interval(mins => t.delay_minutes) AS scheduled_for, f.id AS upstream_execution_id,
                now() AS queued_at
            FROM finished f
            JOIN flowforge.workflow_triggers t
                ON t.depends_on_workflow_id = f.workflow_id AND t.trigger_type = 'dependency' AND t.enabled
               AND (t.dependency_condition = 'on_completion'
                    OR (t.dependency_condition = 'on_success' AND f.status = 'completed')
                    OR (t.dependency_condition = 'on_failure' AND f.status = 'failed'))
            JOIN flowforge.workflows w ON w.id = t.workflow_id AND w.paused_at IS NULL
        ), \(RunEnqueue.ctes(.dependency))
        SELECT execution_id FROM run_job
        """

    /// Starts the downstream runs of finished executions not yet cascaded, in one statement:
    /// every enabled dependency trigger whose condition holds gets a run with
    /// `run_at = finished_at + delay`, and the upstream is marked cascaded in the same
    /// transaction. Returns how many downstream runs it created.
    public func cascade(limit: Int = 500) async throws -> Int {
        let created = try await client.withOpenTransaction(logger: logger) { connection in
            // The worker's planner settings, for this transaction: the backlog and the runs are
            // found by index whatever the (often stale) statistics of a queue's tables say.
            try await connection.query(PostgresQuery(unsafeSQL: Self.queuePlannerSettingsSQL), logger: logger)
            var query = PostgresQuery(unsafeSQL: Self.cascadeSQL)
            query.binds.append(limit)
            let rows = try await connection.query(query, logger: logger)
            var created = 0
            for try await _ in rows { created += 1 }
            if created > 0 { try await NotificationChannel.jobs.notify("cascade", on: connection, logger: logger) }
            return created
        }
        metrics?.runsCreated(created, triggerType: .dependency)
        return created
    }

    /// Jobs whose worker stopped renewing its lease: back to the queue when attempts remain,
    /// otherwise failed with "worker lost". At most `limit` of each per call; a caller that got
    /// a full batch of either calls again (see `Maintenance`). Returns (requeued, failed).
    public func rescueExpiredLeases(limit: Int = 500) async throws -> (requeued: Int, failed: Int) {
        let (requeued, failed) = try await client.withOpenTransaction(logger: logger) { connection in
            let requeued = try await connection.query(
                """
                WITH expired AS (
                    SELECT j.execution_id, \(unescaped: RunEnqueue.limited(overlapPolicy: "w.overlap_policy")) AS limited FROM flowforge.jobs j
                    JOIN flowforge.workflows w ON w.id = j.workflow_id
                    WHERE j.locked_by IS NOT NULL AND j.lease_expires_at < now() AND j.attempt < w.max_attempts
                    LIMIT \(limit)
                    FOR UPDATE OF j SKIP LOCKED
                ), job AS (
                    UPDATE flowforge.jobs j
                    SET locked_by = NULL, lease_expires_at = NULL, attempt = j.attempt + 1, run_at = now(), limited = expired.limited
                    FROM expired
                    WHERE j.execution_id = ANY(ARRAY(SELECT execution_id FROM expired)) AND j.execution_id = expired.execution_id
                    RETURNING j.execution_id, j.attempt
                ), live AS (
                    DELETE FROM flowforge.live_output l WHERE l.execution_id = ANY(ARRAY(SELECT execution_id FROM job))
                )
                UPDATE flowforge.executions e
                SET status = 'queued', attempt = job.attempt, worker_id = NULL,
                    error = 'the worker running attempt ' || (job.attempt - 1) || ' was lost; retrying'
                FROM job WHERE e.id = job.execution_id
                RETURNING e.id
                """, logger: logger)
            var requeuedCount = 0
            for try await _ in requeued { requeuedCount += 1 }
            let failed = try await connection.query(
                """
                WITH expired AS (
                    -- Only runs whose attempts are used up: the statement above took at most
                    -- `limit` of the others, and any it left are for the next call, not for this
                    -- one. A running job whose workflow was deleted has no attempts to give.
                    SELECT j.execution_id FROM flowforge.jobs j
                    LEFT JOIN flowforge.workflows w ON w.id = j.workflow_id
                    WHERE j.locked_by IS NOT NULL AND j.lease_expires_at < now()
                      AND (w.id IS NULL OR j.attempt >= w.max_attempts)
                    LIMIT \(limit)
                    FOR UPDATE OF j SKIP LOCKED
                ), job AS (
                    DELETE FROM flowforge.jobs j WHERE j.execution_id = ANY(ARRAY(SELECT execution_id FROM expired))
                    RETURNING j.execution_id
                ), live AS (
                    DELETE FROM flowforge.live_output l WHERE l.execution_id = ANY(ARRAY(SELECT execution_id FROM job))
                ), lost AS (
                    UPDATE flowforge.executions e
                    SET status = 'failed', finished_at = clock_timestamp(), error = 'worker lost: its lease expired and no attempts remain'
                    FROM job WHERE e.id = job.execution_id AND e.status = 'running'
                    RETURNING e.id, e.trigger_type, e.finished_at
                ), backlog AS (
                    INSERT INTO flowforge.cascade_backlog (execution_id, finished_at) SELECT id, finished_at FROM lost
                )
                SELECT id, trigger_type FROM lost
                """, logger: logger)
            var failedRuns: [(Int64, ExecutionTriggerType)] = []
            for try await (id, type) in failed.decode((Int64, String).self) {
                failedRuns.append((id, ExecutionTriggerType(rawValue: type) ?? .manual))
            }
            for (id, _) in failedRuns {
                try await NotificationChannel.executionFinished.notify(String(id), on: connection, logger: logger)
            }
            if requeuedCount > 0 { try await NotificationChannel.jobs.notify("rescued", on: connection, logger: logger) }
            return (requeuedCount, failedRuns)
        }
        for (_, type) in failed { metrics?.runsFinished(status: .failed, triggerType: type) }
        return (requeued, failed.count)
    }

    /// Deletes live output (sql/013_live_output.sql) that no running attempt holds: rows a
    /// result, a cancel or a rescue did not take because a worker's write crossed them, or an
    /// attempt's whose worker died before the rescue. Rows written in the last few seconds are
    /// left alone, so a write that is being committed is not judged on half the picture.
    /// Returns how many it deleted.
    public func pruneLiveOutput() async throws -> Int {
        let rows = try await client.rows(
            """
            DELETE FROM flowforge.live_output l
            WHERE l.updated_at < clock_timestamp() - interval '5 seconds'
              AND NOT EXISTS (
                  SELECT 1 FROM flowforge.jobs j WHERE j.execution_id = l.execution_id AND j.attempt = l.attempt AND j.locked_by IS NOT NULL)
            RETURNING l.execution_id
            """, logger: logger)
        return rows.count
    }

    /// Deletes finished executions older than `days` (by `finished_at`), at most `limit` per
    /// call, oldest queued first, and only those the cascader is done with. The index on
    /// `queued_at` bounds the search: a run finished before the cutoff was queued before it.
    /// Returns how many it deleted.
    public func pruneHistory(olderThanDays days: Int, limit: Int = 1_000) async throws -> Int {
        let rows = try await client.rows(
            """
            DELETE FROM flowforge.executions WHERE id IN (
                SELECT id FROM flowforge.executions
                WHERE queued_at < now() - make_interval(days => \(days)::int)
                  AND finished_at < now() - make_interval(days => \(days)::int)
                  AND status IN ('completed', 'failed', 'cancelled', 'skipped')
                  AND cascaded_at IS NOT NULL
                ORDER BY queued_at
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """, logger: logger)
        return rows.count
    }

    /// The earliest `next_run_at` of an enabled scheduled trigger.
    public func nextTriggerTime() async throws -> Date? {
        let rows = try await client.rows(
            "SELECT min(next_run_at) FROM flowforge.workflow_triggers t WHERE enabled AND trigger_type = 'scheduled' AND NOT \(unescaped: Self.pausedWorkflow)",
            logger: logger)
        for date in try rows.decode(Date?.self) { return date }
        return nil
    }
}
