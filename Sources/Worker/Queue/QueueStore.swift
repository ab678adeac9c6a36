import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

/// The job queue: claiming, leases and results. Every query of `jobs` the worker makes is here.
struct QueueStore: Sendable {
    let client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics?
    /// The steps of the workflows this store's claims returned; one per worker, for its life.
    let stepsCache = StepsCache()

    init(client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics? = nil) {
        (self.client, self.logger, self.metrics) = (client, logger, metrics)
    }

    /// Run timings use clock_timestamp(), not now(): now() is when the transaction began, which
    /// can be before the moment the run really started (or finished).
    ///
    /// Claims up to `limit` due jobs, marks them leased to `workerID` and their runs `running`.
    ///
    /// Workflows with `overlap_policy` allow are claimed by one statement that skips rows other
    /// workers hold. Workflows with a concurrency limit (queue, skip) are claimed behind a
    /// transaction-scoped advisory lock, so that counting their running runs and claiming more
    /// cannot interleave between workers on any host; a `skip` run that finds its workflow at
    /// the limit is recorded as skipped, a `queue` run waits.
    ///
    /// The common case, jobs of workflows without a limit, is one statement and one round trip
    /// (no transaction around it); the limited claim, which takes a lock, runs only when a
    /// limited job is due.
    ///
    /// With the runs it says how long until the next job not yet due comes due, so that a
    /// worker that found less work than it had room for knows how long it may sleep without
    /// a second question.
    func claim(workerID: String, limit: Int, leaseSeconds: Int) async throws -> Claim {
        guard limit > 0 else { return Claim(runs: [], nextDueIn: nil) }
        let (claimed, limitedDue, nextDueIn) = try await decodeClaim(
            client.execute(ClaimUnlimited(workerID: workerID, leaseSeconds: leaseSeconds, limit: limit), logger: logger))
        guard claimed.count < limit, limitedDue else { return Claim(runs: claimed, nextDueIn: nextDueIn) }
        let remaining = limit - claimed.count
        return try await client.withOpenTransaction(logger: logger) { connection in
            Claim(
                runs: claimed + (try await claimLimited(workerID: workerID, limit: remaining, leaseSeconds: leaseSeconds, on: connection)),
                nextDueIn: nextDueIn)
        }
    }

    /// What a claim took, and when the queue next has a job coming due.
    struct Claim: Sendable {
        var runs: [ClaimedRun]
        /// Seconds until the earliest job that was not yet due at the claim comes due, by the
        /// database's clock (so clock skew between hosts does not matter); nil when none waits.
        var nextDueIn: Double?
    }

    /// The runs a claim statement returned, whether a limited workflow's job was due, and the
    /// seconds until the next job comes due.
    func decodeClaim<Rows: AsyncSequence>(_ rows: Rows) async throws -> (runs: [ClaimedRun], limitedDue: Bool, nextDueIn: Double?)
    where Rows.Element == PostgresRow {
        var decoder = ClaimedRunDecoder(stepsCache: stepsCache)
        var runs: [ClaimedRun] = []
        var nextDueIn: Double?
        var first = true
        for try await row in rows {
            let row = row.makeRandomAccess()
            if first {
                // The same in every row: the statement computes it once.
                first = false
                nextDueIn = try row[ClaimColumn.nextDueIn].decode(Double?.self)
            }
            if let run = try decoder.decode(row) { runs.append(run) }
        }
        return (runs, decoder.limitedDue, nextDueIn)
    }

    /// Claims due jobs of limited workflows, under the overlap lock: at most as many per
    /// workflow as it has free places; `skip` runs over the limit are recorded as skipped.
    func claimLimited(workerID: String, limit: Int, leaseSeconds: Int, on connection: PostgresConnection) async throws -> [ClaimedRun] {
        try await connection.query("SELECT pg_advisory_xact_lock(\(AdvisoryLock.overlap))", logger: logger)
        for (type, count) in try await Self.skipOverLimit(on: connection, logger: logger) {
            metrics?.runsFinished(count, status: .skipped, triggerType: type)
        }
        return try await claim(Self.limitedDue(limit: limit), workerID: workerID, leaseSeconds: leaseSeconds, on: connection, logger: logger)
    }

    func claim(workerID: String, limit: Int, leaseSeconds: Int, on connection: PostgresConnection) async throws -> [ClaimedRun] {
        guard limit > 0 else { return [] }
        let (claimed, limitedDue, _) = try await decodeClaim(
            connection.execute(ClaimUnlimited(workerID: workerID, leaseSeconds: leaseSeconds, limit: limit), logger: logger))
        guard claimed.count < limit, limitedDue else { return claimed }
        return claimed + (try await claimLimited(workerID: workerID, limit: limit - claimed.count, leaseSeconds: leaseSeconds, on: connection))
    }

    /// Due jobs of limited workflows, at most as many per workflow as it has free places (its
    /// limit less its leased jobs).
    static func limitedDue(limit: Int) -> String {
        """
        SELECT execution_id FROM (
            SELECT j.execution_id, j.run_at,
                row_number() OVER (PARTITION BY j.workflow_id ORDER BY j.run_at, j.execution_id) AS place,
                w.max_concurrent_runs - (SELECT count(*) FROM flowforge.jobs r
                                         WHERE r.workflow_id = j.workflow_id AND r.locked_by IS NOT NULL) AS free
            FROM flowforge.jobs j
            JOIN flowforge.workflows w ON w.id = j.workflow_id
            WHERE j.locked_by IS NULL AND j.limited AND j.run_at <= now()
        ) candidates
        WHERE place <= free
        ORDER BY run_at, execution_id
        LIMIT \(max(0, limit))
        """
    }

    /// Runs of `skip` workflows that are due while the workflow is at its limit: recorded as
    /// skipped, with the reason, and taken off the queue; their `skipped` alerts are raised in
    /// the same statement.
    /// Returns how many runs it skipped, by trigger type.
    static func skipOverLimit(on connection: PostgresConnection, logger: Logger) async throws -> [ExecutionTriggerType: Int] {
        let rows = try await connection.query(
            """
            WITH over AS (
                SELECT j.execution_id, w.max_concurrent_runs FROM flowforge.jobs j
                JOIN flowforge.workflows w ON w.id = j.workflow_id
                WHERE j.locked_by IS NULL AND j.limited AND j.run_at <= now() AND w.overlap_policy = 'skip'
                  AND (SELECT count(*) FROM flowforge.jobs r WHERE r.workflow_id = j.workflow_id AND r.locked_by IS NOT NULL)
                      >= w.max_concurrent_runs
            ), job AS (
                DELETE FROM flowforge.jobs j USING over WHERE j.execution_id = over.execution_id
                RETURNING j.execution_id, over.max_concurrent_runs
            ), skipped AS (
                UPDATE flowforge.executions e
                SET status = 'skipped', finished_at = clock_timestamp(), cascaded_at = clock_timestamp(),
                    error = 'skipped: the workflow already had ' || job.max_concurrent_runs
                        || ' run(s) running (overlap_policy skip, max_concurrent_runs ' || job.max_concurrent_runs || ')'
                FROM job WHERE e.id = job.execution_id
                RETURNING e.id, e.status, e.trigger_type
            ), alerted AS (
                SELECT flowforge.raise_run_alerts(array_agg(id), array_agg(status)) FROM skipped
            )
            SELECT trigger_type FROM skipped, alerted
            """, logger: logger)
        var skipped: [ExecutionTriggerType: Int] = [:]
        for try await type in rows.decode(String.self) {
            skipped[ExecutionTriggerType(rawValue: type) ?? .manual, default: 0] += 1
        }
        return skipped
    }

    /// Leases the jobs `due` selects and returns their runs. `due` is SQL text of ours with no
    /// input in it (its only value, the limit, is an integer we computed).
    func claim(
        _ due: String, workerID: String, leaseSeconds: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> [ClaimedRun] {
        var query = PostgresQuery(unsafeSQL: Self.leaseSQL(due: due))
        query.binds.append(workerID)
        query.binds.append(leaseSeconds)
        return try await decodeClaim(connection.query(query, logger: logger)).runs
    }

    /// Leases the jobs that `due` selects to $1 for $2 seconds, marks their runs running and
    /// returns what a worker needs to run them (the `ClaimColumn`s, then `limited_due` and
    /// `next_due_in`). `due` is SQL text of ours with no input in it.
    /// Every row also says whether a limited workflow's job is due (`limited_due`) and how many
    /// seconds until the next job not yet due comes due (`next_due_in`), and when nothing was
    /// claimed one row of NULLs carries those alone: a worker learns them without a second
    /// round trip.
    ///
    /// The chosen ids reach the `UPDATE` as an array, not as a join: `execution_id = ANY(…)`
    /// can only be an index lookup, where a join's order depends on statistics that a queue
    /// table never has right (a join with `jobs` on the outside read every job once per
    /// claimed one: 0.5 s per claim at 5,000 jobs).
    static func leaseSQL(due: String) -> String {
        """
        WITH \(leaseCTEs(due: due, worker: "$1", lease: "$2"))
        SELECT claimed.*, \(limitedDueSQL) AS limited_due, \(nextDueInSQL) AS next_due_in
        FROM (SELECT) AS always LEFT JOIN claimed ON true
        """
    }

    /// Seconds until the earliest unleased job not yet due comes due; NULL when there is none.
    /// One lookup at the end of each claim index. Jobs due now are left out: the claim took
    /// those it could, and one it could not (a limited workflow at its limit) would have a
    /// worker asking again at once. The statement reads one snapshot, so no job can fall due
    /// between the claim and this question.
    static let nextDueInSQL = """
        extract(epoch FROM least(
            (SELECT min(run_at) FROM flowforge.jobs WHERE locked_by IS NULL AND NOT limited AND NOT backfill AND run_at > now()),
            (SELECT min(run_at) FROM flowforge.jobs WHERE locked_by IS NULL AND limited AND run_at > now())
        ) - now())::float8
        """

    /// The `leased` and `claimed` CTEs of `leaseSQL`, with the parameters named; `claimed`
    /// returns the `ClaimColumn`s.
    static func leaseCTEs(due: String, worker: String, lease: String) -> String {
        """
        leased AS (
            UPDATE flowforge.jobs j
            SET locked_by = \(worker), lease_expires_at = now() + make_interval(secs => \(lease))
            WHERE j.execution_id = ANY(ARRAY(\(due)))
            RETURNING j.execution_id, j.attempt, j.run_at
        )
        , claimed AS (
            UPDATE flowforge.executions e
            SET status = 'running', started_at = clock_timestamp(), worker_id = \(worker), attempt = leased.attempt
            FROM leased, flowforge.workflows w
            WHERE e.id = leased.execution_id AND w.id = e.workflow_id
            RETURNING \(ClaimColumn.returning)
        )
        """
    }

    static let limitedDueSQL = "EXISTS (SELECT 1 FROM flowforge.jobs WHERE locked_by IS NULL AND limited AND run_at <= now())"

    /// The unlimited claim's choice of jobs, oldest first, with the batch size parameter named:
    /// every due job that came due on its own first, and only then, for the slots left, a
    /// backfill's. A backfill's thousands of runs, all due at once, so never go before the runs
    /// that are due on time, which keep their own index. (A backfill of long runs that should
    /// leave slots free is held back by its workflow's overlap policy, as any run is.)
    static func unlimitedDue(limit: String) -> String {
        """
        WITH on_time AS (
            SELECT execution_id FROM flowforge.jobs
            WHERE locked_by IS NULL AND NOT limited AND NOT backfill AND run_at <= now()
            ORDER BY run_at, execution_id
            LIMIT \(limit)
            FOR UPDATE SKIP LOCKED
        ), backfill AS (
            SELECT execution_id FROM flowforge.jobs
            WHERE locked_by IS NULL AND NOT limited AND backfill AND run_at <= now()
            ORDER BY run_at, execution_id
            LIMIT \(limit) - (SELECT count(*) FROM on_time)
            FOR UPDATE SKIP LOCKED
        )
        SELECT execution_id FROM on_time UNION ALL SELECT execution_id FROM backfill
        """
    }

    /// The busy path's claim, prepared once per connection: workflows without a limit, oldest
    /// first, one table and one index ($3 is the batch size).
    struct ClaimUnlimited: PostgresPreparedStatement {
        static let sql = leaseSQL(due: unlimitedDue(limit: "$3"))
        typealias Row = PostgresRow
        let workerID: String
        let leaseSeconds: Int
        let limit: Int

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            bindings.append(workerID)
            bindings.append(leaseSeconds)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Extends the leases this worker still holds; returns the attempts it still holds (a run
    /// that was cancelled or rescued meanwhile is missing, and its worker should stop it).
    func renewLeases(workerID: String, attempts: [RunAttempt], leaseSeconds: Int) async throws -> Set<RunAttempt> {
        guard !attempts.isEmpty else { return [] }
        let ids = attempts.map(\.executionId), numbers = attempts.map(\.attempt)
        let rows = try await client.rows(
            """
            UPDATE flowforge.jobs j SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            FROM unnest(\(ids)::bigint[], \(numbers)::int[]) AS held(id, attempt)
            WHERE j.execution_id = ANY(\(ids)) AND j.execution_id = held.id AND j.attempt = held.attempt AND j.locked_by = \(workerID)
            RETURNING j.execution_id, j.attempt
            """, logger: logger)
        var held: Set<RunAttempt> = []
        for (id, attempt) in try rows.decode((Int64, Int).self) { held.insert(RunAttempt(executionId: id, attempt: attempt)) }
        return held
    }
}
