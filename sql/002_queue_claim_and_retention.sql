-- FlowForge schema, version 2: a claim that reads one table, and history retention.
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

-- The scheduler's maintenance deletes finished executions older than the retention setting,
-- oldest first; this index lets it find them without reading the whole table.
CREATE INDEX executions_finished ON flowforge.executions (finished_at) WHERE finished_at IS NOT NULL;
