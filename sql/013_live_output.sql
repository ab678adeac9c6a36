-- FlowForge schema, version 13: the output of running steps, while they run.
--
-- A worker keeps each running step's output tail in memory and writes the tails that changed
-- at most once a second, all of them in one statement: one row per step of a running attempt,
-- the step as GET /api/executions/:id answers it (status "running" until it ends). The run's
-- result replaces these rows: the worker deletes them right after writing it, as do lease
-- rescue, a cancel and maintenance (rows whose attempt no longer holds a lease).
--
-- The table is UNLOGGED: what it holds is rebuilt by the final result, so a crash that empties
-- it loses nothing that matters, and its frequent updates cost no WAL. It has no foreign key:
-- checking one would lock the run's row in executions (its hot row) once a second.
-- executions and jobs are not touched by these writes.
CREATE UNLOGGED TABLE flowforge.live_output (
    execution_id bigint NOT NULL,
    step_index int NOT NULL,
    attempt int NOT NULL,
    step jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (execution_id, step_index)
) WITH (
    -- Room on each page for the next version of its rows, so an update stays on its page (HOT).
    fillfactor = 50,
    -- Each running step's row is rewritten up to once a second: vacuum it often, without pauses.
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 500,
    autovacuum_vacuum_cost_delay = 0,
    toast.autovacuum_vacuum_scale_factor = 0,
    toast.autovacuum_vacuum_threshold = 500,
    toast.autovacuum_vacuum_cost_delay = 0
);
