-- Event triggers: signed webhooks and file arrival.

-- A webhook trigger's secrets, sealed (AES-GCM with the API's FLOWFORGE_SECRET_KEY): the
-- HMAC needs the secret itself, so it cannot be stored as a hash, and a copy of the database
-- alone does not reveal it. After a rotation the previous secret keeps working until
-- expires_at; the current one has none.
CREATE TABLE flowforge.webhook_secrets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger_id  bigint NOT NULL REFERENCES flowforge.workflow_triggers (id) ON DELETE CASCADE,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz
);
CREATE INDEX webhook_secrets_trigger ON flowforge.webhook_secrets (trigger_id);

-- Every accepted delivery, keyed by what its signature signs (SHA-256 of "<t>.<body>"): a
-- replay of a signed delivery finds its row and starts nothing, whichever of its v1 values it
-- carries. Timestamps older than 5 minutes are refused anyway, so maintenance deletes rows
-- older than a day.
CREATE TABLE flowforge.webhook_deliveries (
    trigger_id    bigint NOT NULL REFERENCES flowforge.workflow_triggers (id) ON DELETE CASCADE,
    signed_digest bytea NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    -- the run it started; null when the event did not match the trigger's filter
    execution_id  bigint,
    PRIMARY KEY (trigger_id, signed_digest)
);
CREATE INDEX webhook_deliveries_received ON flowforge.webhook_deliveries USING brin (received_at);

-- The event behind an event run: the raw webhook body (and its JSON, when it is JSON and
-- small enough to show), or the path of the file that arrived. Read by the worker when the
-- run starts; deleted with the run.
CREATE TABLE flowforge.execution_events (
    execution_id  bigint PRIMARY KEY REFERENCES flowforge.executions (id) ON DELETE CASCADE,
    payload       bytea,
    payload_json  jsonb,
    file_path     text,
    file_size     bigint,
    file_mtime    timestamptz
);

-- Files a file-arrival trigger has taken, by path, size and modification time: a file starts
-- one run however many schedulers see it, and again only when it changes. Kept in the
-- database, so a restart forgets nothing.
CREATE TABLE flowforge.file_arrivals (
    trigger_id    bigint NOT NULL REFERENCES flowforge.workflow_triggers (id) ON DELETE CASCADE,
    path          text NOT NULL,
    size          bigint NOT NULL,
    mtime         timestamptz NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    execution_id  bigint,
    PRIMARY KEY (trigger_id, path, size, mtime)
);

-- A file-arrival trigger takes files modified at or after this moment: when it was created,
-- last enabled, or given a new directory or pattern (no surprise backfill of what was already
-- there), unless its event_config says include_existing.
ALTER TABLE flowforge.workflow_triggers ADD COLUMN files_since timestamptz;
