-- FlowForge schema, version 11: run parameters and reruns.
--
-- A run may carry parameters, a JSON object its steps read (the file named by
-- FLOWFORGE_PARAMS_FILE, and FLOWFORGE_PARAM_<NAME> for top-level strings and numbers). A
-- trigger may carry defaults, which every run it creates gets. NULL means none (the API answers
-- `{}`), so the runs of triggers without parameters, nearly all of them, store nothing more.
--
-- `rerun_of` names the run a rerun repeats. It is a plain number, not a foreign key: history
-- pruning deletes old runs in batches, and a reference would cost each deletion a lookup (and
-- an index) for a link that is only shown; a rerun keeps the id after its original is pruned.
--
-- Columns without a default are added without rewriting the tables, and the checks, NOT
-- VALID, without reading them (every existing row holds NULL).

ALTER TABLE flowforge.executions ADD COLUMN params jsonb, ADD COLUMN rerun_of bigint,
    ADD CONSTRAINT executions_params_object CHECK (jsonb_typeof(params) = 'object') NOT VALID;
ALTER TABLE flowforge.workflow_triggers ADD COLUMN params jsonb,
    ADD CONSTRAINT workflow_triggers_params_object CHECK (jsonb_typeof(params) = 'object') NOT VALID;
