-- FlowForge schema, version 12: schedule options of scheduled triggers.
--
-- jitter_seconds: each run is moved later by a fixed amount in [0, jitter_seconds], derived from
-- the trigger and the time it is moved from (so every scheduler replica, and the preview, get
-- the same time); the moved time is the run's scheduled_for and the trigger's next_run_at.
-- active_from / active_until: no run before the one or at or after the other.
-- dst_gap / dst_overlap: the trigger's `dst_policy`; NULL follows the rule by hour restriction.
-- Columns with a constant default or none are added without rewriting the table; the checks
-- read it once.

ALTER TABLE flowforge.workflow_triggers
    ADD COLUMN jitter_seconds integer NOT NULL DEFAULT 0 CHECK (jitter_seconds BETWEEN 0 AND 3600),
    ADD COLUMN active_from timestamptz,
    ADD COLUMN active_until timestamptz,
    ADD COLUMN dst_gap text CHECK (dst_gap IN ('shift', 'skip')),
    ADD COLUMN dst_overlap text CHECK (dst_overlap IN ('first', 'both')),
    ADD CONSTRAINT active_window_in_order CHECK (active_from IS NULL OR active_until IS NULL OR active_from < active_until);
