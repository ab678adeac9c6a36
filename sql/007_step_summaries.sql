-- FlowForge schema, version 7: lists show what each step did, not what it printed.
--
-- A run keeps up to 64 KiB of output per step, and a run may have 100 steps, so a page of the
-- executions list read from `steps` could carry hundreds of megabytes, and the UI polls it every
-- two seconds. Lists read `step_summaries` instead: each step without `output` and
-- `output_base64`, with `output_bytes`.
--
-- It is computed when a run's steps are written, not when a list is read: a summary read from
-- `steps` has to read all of `steps` (jsonb is read whole), which took 700 ms for 200 runs of
-- 20 steps of 64 KiB. Stored, the same page reads 200 small values. A generated column keeps
-- the summary right whoever writes `steps`, and costs a few microseconds per written run.
--
-- The function must never fail: it runs inside the worker's result write, and an error there
-- would refuse the run's result. Anything that is not an array of objects is kept as it is.

CREATE FUNCTION flowforge.step_summaries(steps jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    summaries jsonb := '[]';
    step jsonb;
BEGIN
    IF jsonb_typeof(steps) <> 'array' THEN
        RETURN '[]';
    END IF;
    FOR i IN 0 .. jsonb_array_length(steps) - 1 LOOP
        step := steps -> i;
        IF jsonb_typeof(step) = 'object' THEN
            -- Steps written since the worker counts what a step printed carry output_bytes
            -- (possibly more than was kept); older ones have only their output.
            IF jsonb_typeof(step -> 'output_bytes') IS DISTINCT FROM 'number' THEN
                step := step || jsonb_build_object('output_bytes', coalesce(octet_length(step ->> 'output'), 0));
            END IF;
            step := step - 'output' - 'output_base64';
        END IF;
        summaries := summaries || jsonb_build_array(step);
    END LOOP;
    RETURN summaries;
END
$$;

-- Rewrites the table once, computing the summary of every run already recorded.
ALTER TABLE flowforge.executions
    ADD COLUMN step_summaries jsonb NOT NULL GENERATED ALWAYS AS (flowforge.step_summaries(steps)) STORED;
