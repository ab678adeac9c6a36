-- Autovacuum for the queue's two busy tables.
--
-- Every run inserts, updates and deletes a row of jobs: at a few thousand runs a second the
-- default trigger (20 % of the table dead) lets dead rows pile up between bursts and leaves
-- the claim index full of them. Vacuum jobs after every 1,000 dead or inserted rows, without
-- cost-based pauses: the table is small, so each pass is cheap.
ALTER TABLE flowforge.jobs SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);

-- executions only grows (retention prunes it): each run's row is updated when it starts and
-- when it ends. Vacuum and analyze at 2 % of the table rather than 20 % and 10 %, so a large
-- history does not wait for millions of dead rows before its space is reused.
ALTER TABLE flowforge.executions SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02
);
