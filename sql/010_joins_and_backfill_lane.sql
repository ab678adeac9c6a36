-- FlowForge schema, version 10: a dependency trigger over several upstreams (a join), and a
-- lane of its own for a backfill's jobs (at the end).
--
-- `trigger_upstreams` holds every edge of the dependency graph, one row per (trigger, upstream),
-- for single-upstream triggers too, so the cascader, the cycle check and the worker's "does
-- anyone wait on this?" read one table. `depends_on_workflow_id` stays the first upstream: its
-- foreign key still removes a trigger whose (first) upstream is deleted, and old readers keep
-- working. A join fires once every upstream has finished, matching its condition, since the
-- join last fired. Until then the finishes that count wait in `join_pending`, in the order the
-- cascader took them (`seq`); the run that fires records all of them (`upstream_execution_ids`).

CREATE TABLE flowforge.trigger_upstreams (
    trigger_id           bigint NOT NULL REFERENCES flowforge.workflow_triggers (id) ON DELETE CASCADE,
    position             smallint NOT NULL,
    upstream_workflow_id bigint NOT NULL REFERENCES flowforge.workflows (id) ON DELETE CASCADE,
    PRIMARY KEY (trigger_id, position),
    UNIQUE (trigger_id, upstream_workflow_id)
);
-- The cascader's and the worker's question: which triggers wait on this workflow?
CREATE INDEX trigger_upstreams_upstream ON flowforge.trigger_upstreams (upstream_workflow_id);

INSERT INTO flowforge.trigger_upstreams (trigger_id, position, upstream_workflow_id)
SELECT id, 0, depends_on_workflow_id FROM flowforge.workflow_triggers
WHERE trigger_type = 'dependency' AND depends_on_workflow_id IS NOT NULL;

DROP INDEX flowforge.workflow_triggers_upstream;

-- A join's finishes that count and have not fired it yet. An edge removed (the trigger edited,
-- the upstream deleted) takes its pending finishes with it.
CREATE TABLE flowforge.join_pending (
    seq                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_id           bigint NOT NULL,
    upstream_workflow_id bigint NOT NULL,
    execution_id         bigint NOT NULL,
    finished_at          timestamptz NOT NULL,
    UNIQUE (trigger_id, execution_id),
    FOREIGN KEY (trigger_id, upstream_workflow_id)
        REFERENCES flowforge.trigger_upstreams (trigger_id, upstream_workflow_id) ON DELETE CASCADE
);

-- Every upstream run a join's run waited for, in the order they counted; NULL for other runs
-- (a dependency run's one upstream is `upstream_execution_id`).
ALTER TABLE flowforge.executions ADD COLUMN upstream_execution_ids bigint[];

-- A backfill's jobs form a lane of their own: they are all due at once, and a claim takes
-- them only after every job that came due on time (`QueueStore.unlimitedDue`), and never into
-- the last quarter of a worker's free slots. Each lane has its own claim index.
ALTER TABLE flowforge.jobs ADD COLUMN backfill boolean NOT NULL DEFAULT false;
DROP INDEX flowforge.jobs_claimable;
CREATE INDEX jobs_claimable ON flowforge.jobs (run_at, execution_id) WHERE NOT limited AND NOT backfill;
CREATE INDEX jobs_claimable_backfill ON flowforge.jobs (run_at, execution_id) WHERE NOT limited AND backfill;
