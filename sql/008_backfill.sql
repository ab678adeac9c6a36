-- FlowForge schema, version 8: backfills.
--
-- A backfill creates the runs a scheduled trigger's schedule would have created over a past
-- range. They are scheduled runs like any other (the same unique key on trigger and
-- scheduled_for makes a second backfill of the same range, or one over times that already
-- fired, create only what is missing), marked so that history shows where they came from.
-- A column with a constant default is added without rewriting the table.

ALTER TABLE flowforge.executions ADD COLUMN backfill boolean NOT NULL DEFAULT false;
