-- FlowForge schema, version 14: alert rules, channels, and the alerts they raise.
--
-- An alert is raised inside the transaction that writes the run's final status: every
-- statement that finishes runs (a worker's results, a skip, a lease rescue) calls
-- `raise_run_alerts` with the runs it finished, so no crash between the two can lose an alert
-- or raise one twice. The scheduler's maintenance raises `late` and `long_running` alerts with
-- `raise_timing_alerts`. Each alert gets one delivery per channel of its rule; notifiers (in
-- the scheduler) claim deliveries with SKIP LOCKED, woken by `flowforge_alerts`, and record
-- each attempt.

CREATE TABLE flowforge.alert_channels (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    -- What is not secret: a webhook's URL; an email server, its sender and recipients.
    settings      jsonb NOT NULL DEFAULT '{}',
    -- Sealed with FLOWFORGE_SECRET_KEY: a webhook's signing secret, a Slack URL, an email password.
    sealed_secret bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flowforge.alert_rules (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text NOT NULL UNIQUE,
    all_workflows        boolean NOT NULL,
    on_failed            boolean NOT NULL DEFAULT false,
    on_succeeded         boolean NOT NULL DEFAULT false,
    on_recovered         boolean NOT NULL DEFAULT false,
    on_skipped           boolean NOT NULL DEFAULT false,
    -- NULL: the event is not watched.
    consecutive_failures integer CHECK (consecutive_failures BETWEEN 1 AND 10000),
    late_seconds         integer CHECK (late_seconds BETWEEN 1 AND 604800),
    long_running_seconds integer CHECK (long_running_seconds BETWEEN 1 AND 604800),
    throttle_minutes     integer NOT NULL DEFAULT 0 CHECK (throttle_minutes BETWEEN 0 AND 10080),
    enabled              boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE flowforge.alert_rule_workflows (
    rule_id     bigint NOT NULL REFERENCES flowforge.alert_rules (id) ON DELETE CASCADE,
    workflow_id bigint NOT NULL REFERENCES flowforge.workflows (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, workflow_id)
);
CREATE INDEX alert_rule_workflows_workflow ON flowforge.alert_rule_workflows (workflow_id);

-- A channel that a rule uses cannot be deleted (the API names the rules).
CREATE TABLE flowforge.alert_rule_channels (
    rule_id    bigint NOT NULL REFERENCES flowforge.alert_rules (id) ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES flowforge.alert_channels (id) ON DELETE RESTRICT,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_channel ON flowforge.alert_rule_channels (channel_id);

-- History outlives the rule, the workflow and the run: their names are copied.
CREATE TABLE flowforge.alerts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id       bigint REFERENCES flowforge.alert_rules (id) ON DELETE SET NULL,
    rule_name     text NOT NULL,
    workflow_id   bigint NOT NULL,
    workflow_name text NOT NULL,
    execution_id  bigint,
    event         text NOT NULL CHECK (event IN
                      ('failed', 'succeeded', 'recovered', 'consecutive_failures', 'late', 'long_running', 'skipped')),
    -- consecutive_failures: the failures in a row; recovered: the failures before it;
    -- late and long_running: the rule's seconds.
    event_detail  integer,
    -- Alerts of this rule and workflow that the throttle held back since the last one sent.
    held_back     integer NOT NULL DEFAULT 0,
    -- The run as it was when the alert was raised (status, trigger, times, error).
    message       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- One alert per rule, run and event, whoever raises it.
CREATE UNIQUE INDEX alerts_once ON flowforge.alerts (rule_id, execution_id, event);
CREATE INDEX alerts_workflow ON flowforge.alerts (workflow_id, id DESC);
CREATE INDEX alerts_rule ON flowforge.alerts (rule_id, id DESC);
CREATE INDEX alerts_created ON flowforge.alerts USING brin (created_at);

CREATE TABLE flowforge.alert_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id         bigint NOT NULL REFERENCES flowforge.alerts (id) ON DELETE CASCADE,
    channel_id       bigint REFERENCES flowforge.alert_channels (id) ON DELETE SET NULL,
    channel_name     text NOT NULL,
    channel_kind     text NOT NULL,
    -- Sent with every attempt, so a receiver can drop a repeat.
    idempotency_key  uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    lease_expires_at timestamptz,
    notifier_id      text,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (alert_id, channel_id)
);
CREATE INDEX alert_deliveries_due ON flowforge.alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_deliveries_leases ON flowforge.alert_deliveries (lease_expires_at) WHERE status = 'sending';
CREATE INDEX alert_deliveries_channel ON flowforge.alert_deliveries (channel_id);

-- Every attempt: `lost` when the notifier sending it stopped before it recorded an answer.
CREATE TABLE flowforge.alert_attempts (
    delivery_id bigint NOT NULL REFERENCES flowforge.alert_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'lost')),
    status_code integer,
    -- What the receiver answered (the start of an HTTP body, an SMTP server's last reply).
    response    text,
    -- Why it was not delivered.
    error       text,
    notifier_id text,
    PRIMARY KEY (delivery_id, attempt)
);

-- A rule's throttle, per workflow: when it last sent, and how many it held back since.
CREATE TABLE flowforge.alert_throttle (
    rule_id       bigint NOT NULL REFERENCES flowforge.alert_rules (id) ON DELETE CASCADE,
    workflow_id   bigint NOT NULL,
    last_alert_at timestamptz NOT NULL,
    held_back     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (rule_id, workflow_id)
);

-- A workflow's failures in a row, kept while a rule covers it (for `recovered` and
-- `consecutive_failures`). Its row lock orders two runs of one workflow finishing at once.
-- No foreign key: a run may finish after its workflow was deleted, and its result must still
-- be written.
CREATE TABLE flowforge.alert_streaks (
    workflow_id bigint PRIMARY KEY,
    failures    integer NOT NULL
);

-- Runs that finish while no enabled rule covers their workflow are not counted, so a change
-- to the rules forgets every kept streak: each is counted again from the run history at its
-- workflow's next finish (`raise_run_alerts`). Rules change rarely; runs finish all the time,
-- and this keeps the check off their path.
CREATE FUNCTION flowforge.forget_alert_streaks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM flowforge.alert_streaks;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_rules_changed AFTER INSERT OR UPDATE OR DELETE ON flowforge.alert_rules
    FOR EACH STATEMENT EXECUTE FUNCTION flowforge.forget_alert_streaks();
CREATE TRIGGER alert_rule_workflows_changed AFTER INSERT OR UPDATE OR DELETE ON flowforge.alert_rule_workflows
    FOR EACH STATEMENT EXECUTE FUNCTION flowforge.forget_alert_streaks();

-- A time as the API writes times: UTC, milliseconds, "Z".
CREATE FUNCTION flowforge.api_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The run as an alert shows it.
CREATE FUNCTION flowforge.alert_message(e flowforge.executions) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'status', e.status, 'trigger_type', e.trigger_type, 'trigger_name', e.trigger_name,
        'scheduled_for', flowforge.api_time(e.scheduled_for), 'started_at', flowforge.api_time(e.started_at),
        'finished_at', flowforge.api_time(e.finished_at), 'attempt', e.attempt, 'error', left(e.error, 2000))
$$;

-- Raises one alert of `rule` for a workflow's run (NULL run for none), unless the rule and run
-- already have one for this event or the throttle holds it back. Returns 1 when it raised one.
CREATE FUNCTION flowforge.raise_alert(
    rule flowforge.alert_rules, wf_id bigint, wf_name text, run_id bigint, kind text, detail integer, msg jsonb
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    held integer := 0;
    last_at timestamptz;
    new_id bigint;
BEGIN
    IF run_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM flowforge.alerts WHERE rule_id = rule.id AND execution_id = run_id AND event = kind
    ) THEN
        RETURN 0;
    END IF;
    IF rule.throttle_minutes > 0 THEN
        INSERT INTO flowforge.alert_throttle (rule_id, workflow_id, last_alert_at) VALUES (rule.id, wf_id, '-infinity')
        ON CONFLICT DO NOTHING;
        SELECT t.last_alert_at, t.held_back INTO last_at, held FROM flowforge.alert_throttle t
        WHERE t.rule_id = rule.id AND t.workflow_id = wf_id FOR UPDATE;
        IF last_at > clock_timestamp() - make_interval(mins => rule.throttle_minutes) THEN
            UPDATE flowforge.alert_throttle SET held_back = held_back + 1 WHERE rule_id = rule.id AND workflow_id = wf_id;
            RETURN 0;
        END IF;
        UPDATE flowforge.alert_throttle SET last_alert_at = clock_timestamp(), held_back = 0
        WHERE rule_id = rule.id AND workflow_id = wf_id;
    END IF;
    INSERT INTO flowforge.alerts (rule_id, rule_name, workflow_id, workflow_name, execution_id, event, event_detail, held_back, message)
    VALUES (rule.id, rule.name, wf_id, wf_name, run_id, kind, detail, held, msg)
    ON CONFLICT (rule_id, execution_id, event) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RETURN 0;
    END IF;
    INSERT INTO flowforge.alert_deliveries (alert_id, channel_id, channel_name, channel_kind)
    SELECT new_id, c.id, c.name, c.kind
    FROM flowforge.alert_rule_channels rc JOIN flowforge.alert_channels c ON c.id = rc.channel_id
    WHERE rc.rule_id = rule.id;
    PERFORM pg_notify('flowforge_alerts', new_id::text);
    RETURN 1;
END
$$;

-- The enabled rules that cover a workflow.
CREATE FUNCTION flowforge.alert_rules_for(wf_id bigint) RETURNS SETOF flowforge.alert_rules
LANGUAGE sql STABLE AS $$
    SELECT r.* FROM flowforge.alert_rules r
    WHERE r.enabled AND (r.all_workflows OR EXISTS (
        SELECT 1 FROM flowforge.alert_rule_workflows w WHERE w.rule_id = r.id AND w.workflow_id = wf_id))
    ORDER BY r.id
$$;

-- Raises the alerts of runs that have just been given their final status, called by the
-- statement that gives it (with the runs it finished and their statuses, in the same order). A volatile function's queries see what
-- the calling statement wrote before the call, so the runs' rows are read as they now are.
-- Returns how many alerts it raised. With no enabled rule it costs one look at a small table;
-- with rules, a batch of successes that changes no streak costs one query more.
CREATE FUNCTION flowforge.raise_run_alerts(run_ids bigint[], statuses text[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    workflow record;
    rules flowforge.alert_rules[];
    rule flowforge.alert_rules;
    run flowforge.executions;
    counts_streak boolean;
    failures integer;
    before integer;
    streak integer;
    raised integer := 0;
BEGIN
    IF run_ids IS NULL OR cardinality(run_ids) = 0 OR NOT EXISTS (SELECT 1 FROM flowforge.alert_rules WHERE enabled) THEN
        RETURN 0;
    END IF;
    -- A batch of successes (the usual batch) matters only to rules that tell of successes, or
    -- to a workflow whose failures in a row a rule counts and that has some (or none known
    -- yet): the success ends the streak. Anything else is decided here, in one look.
    IF NOT ('failed' = ANY(statuses) OR 'skipped' = ANY(statuses))
       AND NOT EXISTS (SELECT 1 FROM flowforge.alert_rules WHERE enabled AND on_succeeded)
       AND NOT EXISTS (
           SELECT 1 FROM flowforge.executions e
           LEFT JOIN flowforge.alert_streaks s ON s.workflow_id = e.workflow_id
           WHERE e.id = ANY(run_ids) AND coalesce(s.failures, 1) > 0
             AND EXISTS (
                 SELECT 1 FROM flowforge.alert_rules_for(e.workflow_id) r
                 WHERE r.on_recovered OR r.consecutive_failures IS NOT NULL))
    THEN
        RETURN 0;
    END IF;
    -- The block has an exception handler, and so a subtransaction: entered only when some
    -- rule is enabled.
    BEGIN
        -- Workflow by workflow: its rules are read once, its streak row locked and written
        -- once, whatever the number of its runs. Row locks (a workflow's streak, then each
        -- rule's throttle) are thus taken in the order of (workflow, rule) by every caller, so
        -- two batches cannot deadlock on them.
        FOR workflow IN
            SELECT e.workflow_id, array_agg(e.id) AS ids FROM flowforge.executions e
            WHERE e.id = ANY(run_ids) AND e.status IN ('completed', 'failed', 'skipped')
            GROUP BY e.workflow_id ORDER BY e.workflow_id
        LOOP
            rules := ARRAY(SELECT r FROM flowforge.alert_rules_for(workflow.workflow_id) AS r);
            CONTINUE WHEN cardinality(rules) = 0;
            -- The failures in a row are kept only for rules that need them.
            counts_streak := EXISTS (SELECT 1 FROM unnest(rules) AS r WHERE r.on_recovered OR r.consecutive_failures IS NOT NULL);
            failures := NULL;
            IF counts_streak THEN
                SELECT s.failures INTO failures FROM flowforge.alert_streaks s WHERE s.workflow_id = workflow.workflow_id FOR UPDATE;
            END IF;
            FOR run IN SELECT e.* FROM flowforge.executions e WHERE e.id = ANY(workflow.ids) ORDER BY e.finished_at, e.id LOOP
                before := NULL;
                streak := NULL;
                IF counts_streak AND run.status IN ('completed', 'failed') THEN
                    -- No streak kept (the first finish since a rule came to cover the
                    -- workflow): count it from the history.
                    IF failures IS NULL THEN
                        SELECT coalesce(min(n) FILTER (WHERE status = 'completed') - 1, count(*)) INTO failures FROM (
                            SELECT p.status, row_number() OVER (ORDER BY p.id DESC) AS n FROM (
                                SELECT p.id, p.status FROM flowforge.executions p
                                WHERE p.workflow_id = run.workflow_id AND p.id <> ALL(run_ids)
                                  AND p.status IN ('completed', 'failed') AND p.finished_at <= run.finished_at
                                ORDER BY p.id DESC LIMIT 10000
                            ) p
                        ) recent;
                    END IF;
                    before := failures;
                    streak := CASE WHEN run.status = 'failed' THEN before + 1 ELSE 0 END;
                    failures := streak;
                END IF;
                FOREACH rule IN ARRAY rules LOOP
                    IF run.status = 'failed' AND rule.on_failed THEN
                        raised := raised + flowforge.raise_alert(
                            rule, run.workflow_id, run.workflow_name, run.id, 'failed', NULL, flowforge.alert_message(run));
                    END IF;
                    IF run.status = 'failed' AND rule.consecutive_failures = streak THEN
                        raised := raised + flowforge.raise_alert(
                            rule, run.workflow_id, run.workflow_name, run.id, 'consecutive_failures', streak, flowforge.alert_message(run));
                    END IF;
                    IF run.status = 'completed' AND rule.on_succeeded THEN
                        raised := raised + flowforge.raise_alert(
                            rule, run.workflow_id, run.workflow_name, run.id, 'succeeded', NULL, flowforge.alert_message(run));
                    END IF;
                    IF run.status = 'completed' AND rule.on_recovered AND before > 0 THEN
                        raised := raised + flowforge.raise_alert(
                            rule, run.workflow_id, run.workflow_name, run.id, 'recovered', before, flowforge.alert_message(run));
                    END IF;
                    IF run.status = 'skipped' AND rule.on_skipped THEN
                        raised := raised + flowforge.raise_alert(
                            rule, run.workflow_id, run.workflow_name, run.id, 'skipped', NULL, flowforge.alert_message(run));
                    END IF;
                END LOOP;
            END LOOP;
            IF failures IS NOT NULL THEN
                INSERT INTO flowforge.alert_streaks (workflow_id, failures) VALUES (workflow.workflow_id, failures)
                ON CONFLICT (workflow_id) DO UPDATE SET failures = excluded.failures;
            END IF;
        END LOOP;
    EXCEPTION
        -- A deadlock or serialization failure is passed on: the caller's statement fails whole
        -- and is tried again (the worker keeps its results until they are written).
        WHEN deadlock_detected OR serialization_failure THEN
            RAISE;
        -- Anything else must not stop a run's result from being written: the caller's
        -- statement would fail, and be retried, for ever. These runs' alerts are lost, and
        -- the server's log says why.
        WHEN OTHERS THEN
            RAISE WARNING 'flowforge: cannot raise alerts for runs %: % (%)', run_ids, SQLERRM, SQLSTATE;
            RETURN 0;
    END;
    RETURN raised;
END
$$;

-- Raises `late` alerts (a scheduled run not started within the rule's seconds of its time)
-- and `long_running` ones (running longer than the rule's seconds), at most `batch` of each.
-- Only runs still on the queue are looked at; a backfill's runs are late by design and are
-- left out. One caller at a time: replicas' maintenance that finds the lock taken skips.
-- Both kinds are raised in one pass, in the order of (workflow, rule), the order in which
-- `raise_run_alerts` takes the throttles' row locks.
CREATE FUNCTION flowforge.raise_timing_alerts(batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    found record;
    rule flowforge.alert_rules;
    run flowforge.executions;
    raised integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM flowforge.alert_rules WHERE enabled AND (late_seconds IS NOT NULL OR long_running_seconds IS NOT NULL))
       OR NOT pg_try_advisory_xact_lock(hashtext('flowforge.raise_timing_alerts')) THEN
        RETURN 0;
    END IF;
    FOR found IN
        SELECT * FROM (
            (SELECT e.workflow_id, r.id AS rule_id, e.id AS run_id, 'late' AS kind, r.late_seconds AS seconds
             FROM flowforge.jobs j
             JOIN flowforge.executions e ON e.id = j.execution_id
             CROSS JOIN LATERAL flowforge.alert_rules_for(e.workflow_id) r
             WHERE r.late_seconds IS NOT NULL AND NOT j.backfill AND e.trigger_type = 'scheduled' AND e.scheduled_for IS NOT NULL
               AND e.scheduled_for + make_interval(secs => r.late_seconds) < clock_timestamp()
               AND (e.started_at IS NULL OR e.started_at > e.scheduled_for + make_interval(secs => r.late_seconds))
               AND NOT EXISTS (SELECT 1 FROM flowforge.alerts a WHERE a.rule_id = r.id AND a.execution_id = e.id AND a.event = 'late')
             ORDER BY e.workflow_id, r.id, e.id
             LIMIT batch)
            UNION ALL
            (SELECT e.workflow_id, r.id, e.id, 'long_running', r.long_running_seconds
             FROM flowforge.jobs j
             JOIN flowforge.executions e ON e.id = j.execution_id
             CROSS JOIN LATERAL flowforge.alert_rules_for(e.workflow_id) r
             WHERE r.long_running_seconds IS NOT NULL AND j.locked_by IS NOT NULL AND e.status = 'running'
               AND e.started_at + make_interval(secs => r.long_running_seconds) < clock_timestamp()
               AND NOT EXISTS (SELECT 1 FROM flowforge.alerts a WHERE a.rule_id = r.id AND a.execution_id = e.id AND a.event = 'long_running')
             ORDER BY e.workflow_id, r.id, e.id
             LIMIT batch)
        ) due
        ORDER BY workflow_id, rule_id, run_id
    LOOP
        SELECT * INTO rule FROM flowforge.alert_rules WHERE id = found.rule_id;
        SELECT * INTO run FROM flowforge.executions WHERE id = found.run_id;
        raised := raised + flowforge.raise_alert(rule, run.workflow_id, run.workflow_name, run.id, found.kind, found.seconds,
            flowforge.alert_message(run));
    END LOOP;
    RETURN raised;
END
$$;
