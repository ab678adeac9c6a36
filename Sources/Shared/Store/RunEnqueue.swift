import Logging
import PostgresNIO

/// Creating a run: how an execution and its job are written, for every kind of trigger (Run
/// now, the cron ticker, the cascader, webhooks, file arrival). What differs between them is
/// only which runs they want; the rest is decided here, once:
///
/// - the key that stops two schedulers from creating the same run (`conflict(for:)`);
/// - whether the job waits behind its workflow's overlap lock (`limited(overlapPolicy:)`);
/// - when the job comes due: a run with a time of its own (a scheduled run created ahead of
///   its minute, a downstream run after its delay) at that time, any other (a backfill's
///   runs too) at once.
///
/// It is SQL text to put into the caller's statement, not a function of its own, so a batch
/// (ten thousand runs of one minute, a cascade's fan-out) stays one set-based statement and
/// a run still costs one round trip. The caller names the runs it wants in a CTE, `wanted`,
/// with the columns `workflow_id, workflow_name, trigger_id, trigger_name, scheduled_for,
/// upstream_execution_id, queued_at, params` (and `id` first, when it took the ids from the
/// sequence itself; `rerun_of` last, for a rerun), then appends `RunEnqueue.ctes(…)`, which adds
/// two CTEs: `run`, the executions created, and `run_job`, their jobs (`RETURNING execution_id`).
/// `params` is the run's parameters (`RunParams`): a trigger's defaults (`t.params`), what Run
/// now was given, or `NULL::jsonb` for none.
///
/// Its inverse is here too: `withdrawUpcoming`, for runs created ahead of their time whose
/// trigger changed before they came due.
public enum RunEnqueue {
    /// The one overlap rule: a workflow's jobs are claimed under its overlap lock unless its
    /// policy lets any number of runs overlap. `overlapPolicy` is the SQL of the policy column.
    public static func limited(overlapPolicy: String) -> String { "(\(overlapPolicy) <> 'allow')" }

    /// The unique key that makes a second scheduler's insert of the same run do nothing: once
    /// per (trigger, minute) and once per (trigger, upstream run). Manual and event runs have
    /// none (an event is recorded once before its run is created).
    public static func conflict(for triggerType: ExecutionTriggerType) -> String {
        switch triggerType {
        case .scheduled: "ON CONFLICT (trigger_id, scheduled_for) WHERE trigger_type = 'scheduled' DO NOTHING"
        case .dependency: "ON CONFLICT (trigger_id, upstream_execution_id) WHERE trigger_type = 'dependency' DO NOTHING"
        case .manual, .event: ""
        }
    }

    /// The `run` and `run_job` CTEs for the rows of `wanted`. `idsGiven`: `wanted` starts with
    /// an `id` column the caller took from the executions' sequence. `returningExecution`: `run`
    /// returns every column of the execution (`ExecutionStore.columns`), else only what its job needs.
    /// `backfill`: the runs are marked as a backfill's, and their jobs come due now, in the
    /// backfill's lane (`jobs.backfill`), rather than at their (past) `scheduled_for`: workers
    /// take them only after every job that is due on time, so a backfill of thousands of runs
    /// does not delay the runs that are due on time.
    /// `joins`: `wanted` also has `upstream_execution_ids`, the upstream runs a join's run waited for.
    /// `rerun`: `wanted` ends with a `rerun_of` column, the run each new one repeats.
    public static func ctes(
        _ triggerType: ExecutionTriggerType, idsGiven: Bool = false, returningExecution: Bool = false, backfill: Bool = false,
        joins: Bool = false, rerun: Bool = false
    ) -> String {
        let id = idsGiven ? "id, " : ""
        let rerunOf = rerun ? ", rerun_of" : ""
        return """
            run AS (
                INSERT INTO flowforge.executions
                    (\(id)workflow_id, workflow_name, trigger_id, trigger_type, trigger_name, scheduled_for, upstream_execution_id,
                     upstream_execution_ids, queued_at, backfill, params\(rerunOf))
                \(idsGiven ? "OVERRIDING SYSTEM VALUE" : "")
                SELECT \(id)workflow_id, workflow_name, trigger_id, '\(triggerType.rawValue)', trigger_name, scheduled_for,
                    upstream_execution_id, \(joins ? "upstream_execution_ids" : "NULL::bigint[]"), queued_at, \(backfill),
                    nullif(params, '{}'::jsonb)\(rerunOf)
                FROM wanted
                \(conflict(for: triggerType))
                RETURNING \(returningExecution ? ExecutionStore.columns : "id, workflow_id, scheduled_for, queued_at")
            ), run_job AS (
                INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, run_at, backfill)
                SELECT run.id, run.workflow_id, \(limited(overlapPolicy: "w.overlap_policy")),
                    \(backfill ? "run.queued_at" : "coalesce(run.scheduled_for, run.queued_at)"), \(backfill)
                FROM run JOIN flowforge.workflows w ON w.id = run.workflow_id
                RETURNING execution_id
            )
            """
    }

    /// Removes the runs of scheduled triggers that were created ahead of their time and are
    /// not yet due (see `SchedulerStore.defaultLookahead`): for one trigger, or for every trigger of a
    /// workflow. Called when a trigger is disabled, deleted or rescheduled, in its transaction.
    /// The job is locked before its execution, the order every queue statement uses.
    public static func withdrawUpcoming(
        triggerId: Int64? = nil, workflowId: Int64? = nil, on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.query(
            """
            WITH upcoming AS (
                DELETE FROM flowforge.jobs j USING flowforge.executions e
                WHERE e.id = j.execution_id AND e.trigger_type = 'scheduled' AND j.locked_by IS NULL AND j.run_at > now()
                  AND (e.trigger_id = \(triggerId) OR e.workflow_id = \(workflowId))
                RETURNING j.execution_id
            )
            DELETE FROM flowforge.executions WHERE id IN (SELECT execution_id FROM upcoming)
            """, logger: logger)
    }
}
