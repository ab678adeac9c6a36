-- FlowForge schema, version 1: workflows, their triggers, executions and the job queue.
-- Applied by `flowforge migrate` inside one transaction under an advisory lock.

CREATE TABLE flowforge.workflows (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                  text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description           text NOT NULL DEFAULT '',
    steps                 jsonb NOT NULL CHECK (jsonb_typeof(steps) = 'array' AND jsonb_array_length(steps) >= 1),
    timeout_seconds       integer NOT NULL DEFAULT 3600 CHECK (timeout_seconds > 0),
    max_attempts          integer NOT NULL DEFAULT 1 CHECK (max_attempts BETWEEN 1 AND 100),
    retry_backoff_seconds integer NOT NULL DEFAULT 30 CHECK (retry_backoff_seconds >= 0),
    max_concurrent_runs   integer NOT NULL DEFAULT 1 CHECK (max_concurrent_runs >= 1),
    overlap_policy        text NOT NULL DEFAULT 'queue' CHECK (overlap_policy IN ('allow', 'queue', 'skip')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflows_name_key UNIQUE (name)
);

CREATE TABLE flowforge.workflow_triggers (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id            bigint NOT NULL REFERENCES flowforge.workflows (id) ON DELETE CASCADE,
    trigger_type           text NOT NULL CHECK (trigger_type IN ('scheduled', 'dependency', 'event')),
    enabled                boolean NOT NULL DEFAULT true,
    trigger_name           text NOT NULL CHECK (char_length(trigger_name) BETWEEN 1 AND 200),
    name_is_generated      boolean NOT NULL DEFAULT false,
    -- scheduled
    cron_expression        text,
    timezone               text NOT NULL DEFAULT 'UTC',
    next_run_at            timestamptz,
    last_run_at            timestamptz,
    misfire_policy         text NOT NULL DEFAULT 'run_once' CHECK (misfire_policy IN ('skip', 'run_once', 'run_all')),
    -- dependency
    depends_on_workflow_id bigint REFERENCES flowforge.workflows (id) ON DELETE CASCADE,
    dependency_condition   text CHECK (dependency_condition IN ('on_success', 'on_failure', 'on_completion')),
    delay_minutes          integer NOT NULL DEFAULT 0 CHECK (delay_minutes BETWEEN 0 AND 60),
    -- event
    event_type             text CHECK (event_type IN ('webhook', 'file_arrival')),
    event_config           jsonb,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scheduled_has_cron CHECK (trigger_type <> 'scheduled' OR cron_expression IS NOT NULL),
    CONSTRAINT dependency_has_upstream CHECK (
        trigger_type <> 'dependency'
        OR (depends_on_workflow_id IS NOT NULL AND dependency_condition IS NOT NULL AND depends_on_workflow_id <> workflow_id)),
    CONSTRAINT event_has_type CHECK (trigger_type <> 'event' OR event_type IS NOT NULL)
);

-- The cron ticker's claim: enabled scheduled triggers in next_run_at order.
CREATE INDEX workflow_triggers_due ON flowforge.workflow_triggers (next_run_at)
    WHERE enabled AND trigger_type = 'scheduled';
CREATE INDEX workflow_triggers_workflow ON flowforge.workflow_triggers (workflow_id);
-- The cascader's question: which triggers wait on this workflow?
CREATE INDEX workflow_triggers_upstream ON flowforge.workflow_triggers (depends_on_workflow_id)
    WHERE trigger_type = 'dependency';

-- Executions outlive their workflow and trigger (history stays readable after a delete), so they
-- reference them without foreign keys and keep the names they had.
CREATE TABLE flowforge.executions (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id           bigint NOT NULL,
    workflow_name         text NOT NULL,
    trigger_id            bigint,
    trigger_type          text NOT NULL CHECK (trigger_type IN ('manual', 'scheduled', 'dependency', 'event')),
    trigger_name          text,
    status                text NOT NULL DEFAULT 'queued'
                          CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'skipped')),
    scheduled_for         timestamptz,
    queued_at             timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    finished_at           timestamptz,
    attempt               integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    worker_id             text,
    upstream_execution_id bigint,
    error                 text,
    steps                 jsonb NOT NULL DEFAULT '[]',
    -- Set by the dependency cascader in the same transaction that starts the downstream runs.
    cascaded_at           timestamptz,
    CONSTRAINT finished_has_time CHECK (status IN ('queued', 'running') OR finished_at IS NOT NULL)
);

-- A run can never be created twice: once per (trigger, minute) and once per (trigger, upstream run).
CREATE UNIQUE INDEX executions_scheduled_once ON flowforge.executions (trigger_id, scheduled_for)
    WHERE trigger_type = 'scheduled';
CREATE UNIQUE INDEX executions_dependency_once ON flowforge.executions (trigger_id, upstream_execution_id)
    WHERE trigger_type = 'dependency';
-- Lists: newest first, per workflow, per trigger, per status.
CREATE INDEX executions_workflow ON flowforge.executions (workflow_id, id DESC);
CREATE INDEX executions_trigger ON flowforge.executions (trigger_id, id DESC) WHERE trigger_id IS NOT NULL;
CREATE INDEX executions_status ON flowforge.executions (status, id DESC);
-- The cascader's backlog: finished runs not yet cascaded.
CREATE INDEX executions_to_cascade ON flowforge.executions (finished_at)
    WHERE cascaded_at IS NULL AND status IN ('completed', 'failed');

-- The work queue: one row per execution waiting or running. Finished jobs leave the table.
CREATE TABLE flowforge.jobs (
    execution_id     bigint PRIMARY KEY REFERENCES flowforge.executions (id) ON DELETE CASCADE,
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempt          integer NOT NULL DEFAULT 1,
    locked_by        text,
    lease_expires_at timestamptz
);

-- The claim query only ever looks at unlocked jobs, in run_at order.
CREATE INDEX jobs_claimable ON flowforge.jobs (run_at, execution_id) WHERE locked_by IS NULL;
-- Lease rescue looks only at locked jobs.
CREATE INDEX jobs_leases ON flowforge.jobs (lease_expires_at) WHERE locked_by IS NOT NULL;
