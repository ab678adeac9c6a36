-- FlowForge schema, version 9: pausing a workflow.
--
-- While `paused_at` is set no trigger of the workflow creates runs: the cron ticker leaves its
-- schedules where they are (on resume the misfire policy judges what was missed), the cascader
-- starts no downstream run of it, a webhook is recorded without a run, and the file watcher
-- leaves its folders alone (files that arrived meanwhile are found on resume). Run now and
-- backfills still create runs. A column without a default is added without rewriting the table.

ALTER TABLE flowforge.workflows ADD COLUMN paused_at timestamptz;
