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
        SELECT t.id, t.cron_expression, t.timezone, t.next_run_at, t.misfire_policy, \(ScheduleOptions.columns("t"))
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
        var options = ScheduleOptions()
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
                    misfire: MisfirePolicy(rawValue: try row.column("misfire_policy")) ?? .runOnce,
                    options: try ScheduleOptions(row: row))
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
                            NULL::bigint AS upstream_execution_id, \(now)::timestamptz AS queued_at, t.params
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

    /// The SQL condition under which a finished run of status `status` counts for trigger `t`.
    static func conditionHolds(_ t: String, status: String) -> String {
        """
        (\(t).dependency_condition = 'on_completion'
         OR (\(t).dependency_condition = 'on_success' AND \(status) = 'completed')
         OR (\(t).dependency_condition = 'on_failure' AND \(status) = 'failed'))
        """
    }

    /// The cascade of up to $1 finished runs (see `cascade`). Rows with `created` are the
    /// downstream runs of single-upstream triggers; the others are the finishes of a join's
    /// upstreams, for `advanceJoins` (which checks the join's condition under its lock).
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
        ), edge AS (
            SELECT f.id AS execution_id, f.workflow_id AS upstream_workflow_id, f.status, f.finished_at, u.trigger_id,
                EXISTS (SELECT 1 FROM flowforge.trigger_upstreams j WHERE j.trigger_id = u.trigger_id AND j.position = 1) AS joins
            FROM finished f JOIN flowforge.trigger_upstreams u ON u.upstream_workflow_id = f.workflow_id
        ), wanted AS (
            SELECT t.workflow_id, w.name AS workflow_name, t.id AS trigger_id, t.trigger_name,
                e.finished_at + make_interval(mins => t.delay_minutes) AS scheduled_for, e.execution_id AS upstream_execution_id,
                now() AS queued_at, t.params
            FROM edge e
            JOIN flowforge.workflow_triggers t
                ON t.id = e.trigger_id AND NOT e.joins AND t.trigger_type = 'dependency' AND t.enabled
               AND \(conditionHolds("t", status: "e.status"))
            JOIN flowforge.workflows w ON w.id = t.workflow_id AND w.paused_at IS NULL
        ), \(RunEnqueue.ctes(.dependency))
        SELECT execution_id AS created, NULL::bigint AS trigger_id, NULL::bigint AS upstream_workflow_id,
            NULL::bigint AS upstream_execution_id, NULL::timestamptz AS finished_at, NULL::text AS status
        FROM run_job
        UNION ALL
        SELECT NULL, trigger_id, upstream_workflow_id, execution_id, finished_at, status FROM edge WHERE joins
        """

    /// Starts the downstream runs of finished executions not yet cascaded: every enabled
    /// dependency trigger whose condition holds gets a run with `run_at = finished_at + delay`,
    /// and the upstream is marked cascaded in the same transaction. Single-upstream triggers
    /// take one statement; joins are advanced after it (`advanceJoins`). Returns how many
    /// downstream runs it created.
    public func cascade(limit: Int = 500) async throws -> Int {
        let created = try await client.withOpenTransaction(logger: logger) { connection in
            // The worker's planner settings, for this transaction: the backlog and the runs are
            // found by index whatever the (often stale) statistics of a queue's tables say.
            try await connection.query(PostgresQuery(unsafeSQL: Self.queuePlannerSettingsSQL), logger: logger)
            var query = PostgresQuery(unsafeSQL: Self.cascadeSQL)
            query.binds.append(limit)
            let rows = try await connection.query(query, logger: logger)
            var created = 0
            var finishes = JoinFinishes()
            for try await (run, trigger, upstream, execution, finishedAt, status) in rows.decode(
                (Int64?, Int64?, Int64?, Int64?, Date?, String?).self)
            {
                if run != nil { created += 1 }
                if let trigger, let upstream, let execution, let finishedAt, let status {
                    finishes.append(trigger: trigger, upstream: upstream, execution: execution, finishedAt: finishedAt, status: status)
                }
            }
            if !finishes.triggers.isEmpty { created += try await Self.advanceJoins(finishes, on: connection, logger: logger) }
            if created > 0 { try await NotificationChannel.jobs.notify("cascade", on: connection, logger: logger) }
            return created
        }
        metrics?.runsCreated(created, triggerType: .dependency)
        return created
    }

    /// Upstream finishes of joins, as columns to bind.
    struct JoinFinishes {
        var triggers: [Int64] = [], upstreams: [Int64] = [], executions: [Int64] = [], finishedAt: [Date] = [], statuses: [String] = []

        mutating func append(trigger: Int64, upstream: Int64, execution: Int64, finishedAt date: Date, status: String) {
            triggers.append(trigger)
            upstreams.append(upstream)
            executions.append(execution)
            finishedAt.append(date)
            statuses.append(status)
        }
    }

    /// Records the finishes that count for their joins and starts the runs of the joins they
    /// complete (`JoinPlan`). Each join is locked first, in id order, so the cascaders of
    /// several schedulers advance one join one at a time: two upstreams finishing in the same
    /// millisecond and taken by two cascaders are counted one after the other, and whichever
    /// counts second sees the first (its statements start after the first committed). Returns
    /// how many runs it created.
    static func advanceJoins(_ finishes: JoinFinishes, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let joins = Array(Set(finishes.triggers)).sorted()
        try await connection.query(
            "SELECT id FROM flowforge.workflow_triggers WHERE id = ANY(\(joins)) ORDER BY id FOR UPDATE", logger: logger)
        // The condition, the trigger being on, and its workflow not paused are judged now,
        // under the lock: a finish that does not count is not recorded at all.
        try await connection.query(
            """
            INSERT INTO flowforge.join_pending (trigger_id, upstream_workflow_id, execution_id, finished_at)
            SELECT x.trigger_id, x.upstream_workflow_id, x.execution_id, x.finished_at
            FROM unnest(\(finishes.triggers)::bigint[], \(finishes.upstreams)::bigint[], \(finishes.executions)::bigint[],
                        \(finishes.finishedAt)::timestamptz[], \(finishes.statuses)::text[])
                 AS x(trigger_id, upstream_workflow_id, execution_id, finished_at, status)
            JOIN flowforge.trigger_upstreams u ON u.trigger_id = x.trigger_id AND u.upstream_workflow_id = x.upstream_workflow_id
            JOIN flowforge.workflow_triggers t
                ON t.id = x.trigger_id AND t.trigger_type = 'dependency' AND t.enabled AND \(unescaped: conditionHolds("t", status: "x.status"))
            JOIN flowforge.workflows w ON w.id = t.workflow_id AND w.paused_at IS NULL
            ORDER BY x.finished_at, x.execution_id
            ON CONFLICT DO NOTHING
            """, logger: logger)
        let rows = try await connection.query(
            """
            SELECT p.trigger_id, p.seq, p.upstream_workflow_id, p.execution_id, p.finished_at,
                (SELECT array_agg(u.upstream_workflow_id) FROM flowforge.trigger_upstreams u WHERE u.trigger_id = p.trigger_id)
            FROM flowforge.join_pending p WHERE p.trigger_id = ANY(\(joins)) ORDER BY p.trigger_id, p.seq
            """, logger: logger)
        var pending: [Int64: (upstreams: Set<Int64>, finishes: [JoinPlan.Finish])] = [:]
        for try await (trigger, seq, upstream, execution, finishedAt, upstreams) in rows.decode(
            (Int64, Int64, Int64, Int64, Date, [Int64]).self)
        {
            let finish = JoinPlan.Finish(seq: seq, upstreamWorkflowId: upstream, executionId: execution, finishedAt: finishedAt)
            pending[trigger, default: (Set(upstreams), [])].finishes.append(finish)
        }
        var fired = FiredJoins()
        for trigger in joins {
            guard let (upstreams, finishes) = pending[trigger] else { continue }
            for firing in JoinPlan(pending: finishes, upstreams: upstreams).firings { fired.append(firing, trigger: trigger) }
        }
        guard !fired.triggers.isEmpty else { return 0 }
        let created = try await connection.query(
            """
            WITH consumed AS (
                DELETE FROM flowforge.join_pending WHERE seq = ANY(\(fired.memberSeqs)::bigint[])
            ), member AS (
                SELECT * FROM unnest(\(fired.memberFirings)::bigint[], \(fired.memberExecutions)::bigint[]) WITH ORDINALITY
                    AS m(firing, execution_id, position)
            ), wanted AS (
                SELECT t.workflow_id, w.name AS workflow_name, t.id AS trigger_id, t.trigger_name,
                    g.finished_at + make_interval(mins => t.delay_minutes) AS scheduled_for, g.upstream_execution_id,
                    ARRAY(SELECT m.execution_id FROM member m WHERE m.firing = g.firing ORDER BY m.position) AS upstream_execution_ids,
                    now() AS queued_at, t.params
                FROM unnest(\(fired.triggers)::bigint[], \(fired.completing)::bigint[], \(fired.finishedAt)::timestamptz[])
                     WITH ORDINALITY AS g(trigger_id, upstream_execution_id, finished_at, firing)
                JOIN flowforge.workflow_triggers t ON t.id = g.trigger_id
                JOIN flowforge.workflows w ON w.id = t.workflow_id
            ), \(unescaped: RunEnqueue.ctes(.dependency, joins: true))
            SELECT execution_id FROM run_job
            """, logger: logger)
        var count = 0
        for try await _ in created { count += 1 }
        return count
    }

    /// The firings of joins, as columns to bind: one entry per firing, and one per finish it
    /// consumed (`memberFirings` holds the firing's 1-based number).
    struct FiredJoins {
        var triggers: [Int64] = [], completing: [Int64] = [], finishedAt: [Date] = []
        var memberFirings: [Int64] = [], memberExecutions: [Int64] = [], memberSeqs: [Int64] = []

        mutating func append(_ firing: JoinPlan.Firing, trigger: Int64) {
            triggers.append(trigger)
            completing.append(firing.completing.executionId)
            finishedAt.append(firing.finishedAt)
            for finish in firing.finishes {
                memberFirings.append(Int64(triggers.count))
                memberExecutions.append(finish.executionId)
                memberSeqs.append(finish.seq)
            }
        }
    }

    /// Jobs whose worker stopped renewing its lease: back to the queue when attempts remain,
    /// otherwise failed with "worker lost" (and their alerts raised in the same statement). At most `limit` of each per call; a caller that got
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
                    RETURNING e.id, e.status, e.trigger_type, e.finished_at
                ), backlog AS (
                    INSERT INTO flowforge.cascade_backlog (execution_id, finished_at) SELECT id, finished_at FROM lost
                ), alerted AS (
                    SELECT flowforge.raise_run_alerts(array_agg(id), array_agg(status)) FROM lost
                )
                SELECT id, trigger_type FROM lost, alerted
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

    /// Deletes alerts older than `days` whose deliveries have all ended (delivered or failed),
    /// with their deliveries and attempts, at most `limit` at a time. Returns how many.
    public func pruneAlerts(olderThanDays days: Int, limit: Int = 1_000) async throws -> Int {
        let rows = try await client.rows(
            """
            DELETE FROM flowforge.alerts WHERE id IN (
                SELECT a.id FROM flowforge.alerts a
                WHERE a.created_at < now() - make_interval(days => \(days)::int)
                  AND NOT EXISTS (
                      SELECT 1 FROM flowforge.alert_deliveries d WHERE d.alert_id = a.id AND d.status IN ('pending', 'sending'))
                ORDER BY a.id
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """, logger: logger)
        return rows.count
    }

    /// Raises `late` and `long_running` alerts (sql/014_alerts.sql's `raise_timing_alerts`):
    /// at most `batch` of each. Returns how many it raised.
    public func raiseTimingAlerts(batch: Int) async throws -> Int {
        let rows = try await client.rows("SELECT flowforge.raise_timing_alerts(\(batch)::integer)", logger: logger)
        return (try rows.first?.decode(Int32.self)).map(Int.init) ?? 0
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
