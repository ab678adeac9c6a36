-- FlowForge schema, version 2: a faster queue, and history retention.
--
-- A job now carries its workflow and whether that workflow limits concurrent runs
-- (overlap_policy queue or skip). The claim of unlimited jobs is then a single-table index
-- scan in run_at order whatever the data looks like; before, the planner could join every
-- queued job to its execution and workflow first (seen: 66 ms per claim at 20,000 queued runs).
-- `limited` is kept current by the API when a workflow's overlap_policy changes.

ALTER TABLE flowforge.jobs ADD COLUMN workflow_id bigint;
ALTER TABLE flowforge.jobs ADD COLUMN limited boolean;
UPDATE flowforge.jobs j SET workflow_id = e.workflow_id, limited = coalesce(w.overlap_policy <> 'allow', false)
FROM flowforge.executions e LEFT JOIN flowforge.workflows w ON w.id = e.workflow_id
WHERE e.id = j.execution_id;
ALTER TABLE flowforge.jobs ALTER COLUMN workflow_id SET NOT NULL;
ALTER TABLE flowforge.jobs ALTER COLUMN limited SET NOT NULL;

DROP INDEX flowforge.jobs_claimable;
CREATE INDEX jobs_claimable ON flowforge.jobs (run_at, execution_id) WHERE locked_by IS NULL AND NOT limited;
CREATE INDEX jobs_claimable_limited ON flowforge.jobs (run_at, execution_id) WHERE locked_by IS NULL AND limited;

-- When a worker starts a run, none of the columns it changes (status, started_at, worker_id,
-- attempt) may be indexed, so that PostgreSQL can update the row in place (a HOT update, no
-- index entries written); room is left on every page for that. Queued and running runs are
-- found through the jobs table instead of an index on status, and the cascader's backlog no
-- longer names status: cancelled and skipped runs, which start nothing, are marked cascaded
-- when they end.
ALTER TABLE flowforge.executions SET (fillfactor = 80);
DROP INDEX flowforge.executions_status;
UPDATE flowforge.executions SET cascaded_at = finished_at
WHERE status IN ('cancelled', 'skipped') AND cascaded_at IS NULL;
DROP INDEX flowforge.executions_to_cascade;
CREATE INDEX executions_to_cascade ON flowforge.executions (finished_at)
    WHERE cascaded_at IS NULL AND finished_at IS NOT NULL;

-- The scheduler's maintenance deletes finished executions older than the retention setting,
-- oldest first. finished_at follows the table's physical order closely, so a BRIN index finds
-- them at a fraction of a B-tree's upkeep.
CREATE INDEX executions_finished ON flowforge.executions USING brin (finished_at);
