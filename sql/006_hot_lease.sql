-- FlowForge schema, version 6: a job's lease is written in place.
--
-- A claim writes the job's row (locked_by, lease_expires_at). Until now two indexes named
-- those columns: the claim index, whose predicate was `locked_by IS NULL`, and the lease
-- rescue index on lease_expires_at. So every claim was a full update of the row: a new row
-- version plus an entry in each index that covered it (the primary key's and the lease
-- index's). Now no index of jobs names a column a claim, a lease renewal or a release
-- changes, and those updates are HOT: the new version goes on the same page and no index is
-- touched. Measured on a replay of a drain of 20,000 no-op runs in batches of 256 with one
-- batch always leased: 47-48 µs of PostgreSQL CPU per run, against 57-76 µs before.
--
-- (Filling executions' pages to a fifth, so that both of a run's updates always find room,
-- made every update HOT in the same replay, but in `bench cascade` it doubled the p99 latency
-- (59-85 ms against 30-45 ms in alternating runs), so executions keeps fillfactor 50.)
--
-- What it costs:
-- - The claim index also holds leased jobs, and a claim steps over them (a look at each
--   row, no lock). They are the jobs running right now, at most the slots of all workers.
-- - Lease rescue reads the whole queue table, every few seconds, instead of an index. The
--   table holds only jobs waiting or running (a count of 150,000 of them, by a sequential
--   scan during a drain, took 30 ms here).
DROP INDEX flowforge.jobs_leases;
DROP INDEX flowforge.jobs_claimable;
DROP INDEX flowforge.jobs_claimable_limited;
CREATE INDEX jobs_claimable ON flowforge.jobs (run_at, execution_id) WHERE NOT limited;
CREATE INDEX jobs_claimable_limited ON flowforge.jobs (run_at, execution_id) WHERE limited;

-- A HOT update needs room on the row's page: fill queue pages to half at insert.
ALTER TABLE flowforge.jobs SET (fillfactor = 50);
