import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A run a worker has claimed: everything it needs to execute the steps.
public struct ClaimedRun: Sendable {
    public var executionId: Int64
    public var workflowId: Int64
    public var workflowName: String
    public var triggerId: Int64?
    public var triggerType: ExecutionTriggerType
    public var scheduledFor: Date?
    public var attempt: Int
    public var maxAttempts: Int
    public var retryBackoffSeconds: Int
    public var timeoutSeconds: Int
    public var upstreamExecutionId: Int64?
    public var upstreamStatus: String?
    public var steps: [Step]
    /// From the moment the job became due (its `run_at`) to this claim, by the database's clock.
    public var waitedSeconds: Double

    public var key: RunAttempt { RunAttempt(executionId: executionId, attempt: attempt) }
}

/// One attempt of a run, as a worker holds it. The attempt is the lease's fencing token: a
/// worker that stalled past its lease (paused, cut off) may find the same run claimed again,
/// even by itself after it resumes, and its late word about the old attempt must then count
/// for nothing.
public struct RunAttempt: Hashable, Sendable {
    public var executionId: Int64
    public var attempt: Int

    public init(executionId: Int64, attempt: Int) {
        self.executionId = executionId
        self.attempt = attempt
    }
}

/// What a worker reports when a run's attempt ends.
public struct RunOutcome: Sendable {
    public var executionId: Int64
    /// The attempt that ended; only the holder of that attempt's lease is heard.
    public var attempt: Int
    public var succeeded: Bool
    public var error: String?
    /// `[{"name","status","exit_code","started_at","finished_at","output"}]`
    public var steps: JSONValue

    public var key: RunAttempt { RunAttempt(executionId: executionId, attempt: attempt) }

    public init(executionId: Int64, attempt: Int, succeeded: Bool, error: String?, steps: JSONValue) {
        self.executionId = executionId
        self.attempt = attempt
        self.succeeded = succeeded
        self.error = error
        self.steps = steps
    }
}

extension RunOutcome {
    /// This outcome as it is recorded when the database refused it: failed, with the reason,
    /// and its steps without their output (the part a database refuses).
    public func refused(because reason: String) -> RunOutcome {
        let steps = (steps.arrayValue ?? []).map { step -> JSONValue in
            guard case .object(var fields) = step else { return step }
            fields["output"] = nil
            fields["output_base64"] = nil
            return .object(fields)
        }
        return RunOutcome(
            executionId: executionId, attempt: attempt, succeeded: false,
            error: "the run's result could not be stored, so it is recorded as failed: the database refused it (\(reason))",
            steps: .array(steps))
    }
}

extension QueueStore {
    /// Whether PostgreSQL refused a statement for the data it carried (a data exception, class
    /// 22, or a program limit, class 54): sending the same data again cannot succeed.
    /// Returns PostgreSQL's message when so, nil otherwise.
    public static func refusal(in error: any Error) -> String? {
        switch error {
        case let error as PSQLError:
            guard let state = error.serverInfo?[.sqlState], state.hasPrefix("22") || state.hasPrefix("54") else { return nil }
            return [error.serverInfo?[.message], error.serverInfo?[.detail]].compactMap { $0 }.joined(separator: ": ")
        case let error as PostgresTransactionError:
            return error.closureError.flatMap(refusal(in:))
        default:
            return nil
        }
    }
}

/// The job queue: claiming, leases and results. Every query of `jobs` the worker makes is here.
public struct QueueStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    let metrics: FlowForgeMetrics?
    /// The steps of the workflows this store's claims returned; one per worker, for its life.
    let stepsCache = StepsCache()

    public init(client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics? = nil) {
        self.client = client
        self.logger = logger
        self.metrics = metrics
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
    public func claim(workerID: String, limit: Int, leaseSeconds: Int) async throws -> Claim {
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
    public struct Claim: Sendable {
        public var runs: [ClaimedRun]
        /// Seconds until the earliest job that was not yet due at the claim comes due, by the
        /// database's clock (so clock skew between hosts does not matter); nil when none waits.
        public var nextDueIn: Double?
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
                nextDueIn = try row[15].decode(Double?.self)
            }
            if let run = try decoder.decode(row) { runs.append(run) }
        }
        return (runs, decoder.limitedDue, nextDueIn)
    }

    /// Claims due jobs of limited workflows, under the overlap lock: at most as many per
    /// workflow as it has free places; `skip` runs over the limit are recorded as skipped.
    private func claimLimited(workerID: String, limit: Int, leaseSeconds: Int, on connection: PostgresConnection) async throws -> [ClaimedRun] {
        try await connection.query("SELECT pg_advisory_xact_lock(\(AdvisoryLock.overlap))", logger: logger)
        for (type, count) in try await Self.skipOverLimit(on: connection, logger: logger) {
            metrics?.runsFinished(count, status: .skipped, triggerType: type)
        }
        return try await claim(Self.limitedDue(limit: limit), workerID: workerID, leaseSeconds: leaseSeconds, on: connection, logger: logger)
    }

    private func claim(workerID: String, limit: Int, leaseSeconds: Int, on connection: PostgresConnection) async throws -> [ClaimedRun] {
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
    /// skipped, with the reason, and taken off the queue.
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
            )
            UPDATE flowforge.executions e
            SET status = 'skipped', finished_at = clock_timestamp(), cascaded_at = clock_timestamp(),
                error = 'skipped: the workflow already had ' || job.max_concurrent_runs
                    || ' run(s) running (overlap_policy skip, max_concurrent_runs ' || job.max_concurrent_runs || ')'
            FROM job WHERE e.id = job.execution_id
            RETURNING e.trigger_type
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
    /// returns what a worker needs to run them. `due` is SQL text of ours with no input in it.
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
            (SELECT min(run_at) FROM flowforge.jobs WHERE locked_by IS NULL AND NOT limited AND run_at > now()),
            (SELECT min(run_at) FROM flowforge.jobs WHERE locked_by IS NULL AND limited AND run_at > now())
        ) - now())::float8
        """

    /// The `leased` and `claimed` CTEs of `leaseSQL`, with the parameters named.
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
            RETURNING e.id, extract(epoch FROM e.started_at - leased.run_at)::float8 AS waited, e.workflow_id, e.workflow_name,
                e.trigger_id, e.trigger_type, e.scheduled_for, e.attempt, e.upstream_execution_id,
                (SELECT u.status FROM flowforge.executions u WHERE u.id = e.upstream_execution_id) AS upstream_status,
                w.max_attempts, w.retry_backoff_seconds, w.timeout_seconds, w.steps
        )
        """
    }

    static let limitedDueSQL = "EXISTS (SELECT 1 FROM flowforge.jobs WHERE locked_by IS NULL AND limited AND run_at <= now())"

    /// The unlimited claim's choice of jobs, oldest first, with the batch size parameter named.
    static func unlimitedDue(limit: String) -> String {
        """
        SELECT execution_id FROM flowforge.jobs
        WHERE locked_by IS NULL AND NOT limited AND run_at <= now()
        ORDER BY run_at, execution_id
        LIMIT \(limit)
        FOR UPDATE SKIP LOCKED
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
    public func renewLeases(workerID: String, attempts: [RunAttempt], leaseSeconds: Int) async throws -> Set<RunAttempt> {
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

    /// Records the ends of attempts, any number in one transaction (the worker collects the
    /// results that arrive while the previous batch is being written). A failure with attempts
    /// left goes back to the queue after the workflow's backoff; anything else is final: the job
    /// leaves the queue and the cascader is told, one notification per run. Only the lease
    /// holder's result counts, so a worker that lost its lease (paused, cut off, the run
    /// cancelled) cannot overwrite what happened since.
    ///
    /// In the same transaction it claims up to `claimLimit` more runs (the slots these results
    /// free, and any others free), so a busy worker needs one transaction, and one commit, per
    /// batch of runs rather than two.
    @discardableResult
    public func finish(
        _ outcomes: [RunOutcome], workerID: String, thenClaim claimLimit: Int = 0, leaseSeconds: Int = 30
    ) async throws -> [ClaimedRun] {
        guard !outcomes.isEmpty else { return try await claim(workerID: workerID, limit: claimLimit, leaseSeconds: leaseSeconds).runs }
        let batch = Self.outcomesJSON(outcomes)
        let outcomesTable = Self.outcomesTable
        let anyFailed = outcomes.contains { !$0.succeeded }
        if !anyFailed, claimLimit == 0 {
            // Only final results and no claim: one statement, its own transaction.
            countFinished(try await Self.tally(client.execute(RecordResults(outcomes: batch, workerID: workerID), logger: logger)))
            return []
        }
        if !anyFailed {
            // Only final results, and a claim: one statement.
            var decoder = ClaimedRunDecoder(stepsCache: stepsCache)
            var claimed: [ClaimedRun] = []
            var counts: [String: Int] = [:]
            var first = true
            let rows = try await client.execute(
                RecordResultsAndClaim(outcomes: batch, workerID: workerID, leaseSeconds: leaseSeconds, limit: claimLimit), logger: logger)
            for try await row in rows {
                let row = row.makeRandomAccess()
                if first {
                    first = false
                    let kinds = try row[15].decode([String]?.self) ?? [], numbers = try row[16].decode([Int64]?.self) ?? []
                    for (kind, number) in zip(kinds, numbers) { counts[kind, default: 0] += Int(number) }
                }
                if let run = try decoder.decode(row) { claimed.append(run) }
            }
            countFinished(counts)
            guard claimed.count < claimLimit, decoder.limitedDue else { return claimed }
            // A limited workflow's job is due: its claim takes the overlap lock, in a transaction of its own.
            let remaining = claimLimit - claimed.count
            return claimed + (try await client.withOpenTransaction(logger: logger) { connection in
                try await claimLimited(workerID: workerID, limit: remaining, leaseSeconds: leaseSeconds, on: connection)
            })
        }
        let (claimed, counts) = try await client.withOpenTransaction(logger: logger) { connection in
            // Retries first: their jobs are unlocked here, so the final statement below no longer sees them.
            var retriedQuery = PostgresQuery(
                unsafeSQL: """
                    WITH o AS (SELECT * FROM \(outcomesTable)), job AS (
                        UPDATE flowforge.jobs j
                        SET locked_by = NULL, lease_expires_at = NULL, attempt = j.attempt + 1,
                            run_at = now() + make_interval(secs => w.retry_backoff_seconds),
                            limited = \(RunEnqueue.limited(overlapPolicy: "w.overlap_policy"))
                        FROM o, flowforge.executions e, flowforge.workflows w
                        WHERE j.execution_id = ANY(ARRAY(SELECT id FROM o WHERE NOT ok)) AND j.execution_id = o.id AND NOT o.ok
                          AND j.locked_by = $2 AND j.attempt = o.attempt
                          AND e.id = j.execution_id AND e.status = 'running' AND w.id = e.workflow_id AND j.attempt < w.max_attempts
                        RETURNING j.execution_id, j.attempt
                    )
                    UPDATE flowforge.executions e
                    SET status = 'queued', attempt = job.attempt, error = o.error, steps = o.steps, worker_id = NULL
                    FROM job JOIN o ON o.id = job.execution_id
                    WHERE e.id = job.execution_id
                    RETURNING e.id
                    """)
            try retriedQuery.binds.append(batch)
            retriedQuery.binds.append(workerID)
            var retried = 0
            for try await _ in try await connection.query(retriedQuery, logger: logger) { retried += 1 }
            if retried > 0 { try await connection.query("SELECT pg_notify(\(NotificationChannel.jobs.rawValue), 'retry')", logger: logger) }

            let counts = try await Self.tally(connection.execute(RecordResults(outcomes: batch, workerID: workerID), logger: logger))
            let claimed = try await claim(workerID: workerID, limit: claimLimit, leaseSeconds: leaseSeconds, on: connection)
            return (claimed, counts)
        }
        countFinished(counts)
        return claimed
    }

    /// The outcomes as the JSON array `outcomesTable` reads:
    /// `[{"id":…,"attempt":…,"ok":…,"error":…,"steps":[…]},…]`.
    static func outcomesJSON(_ outcomes: [RunOutcome]) -> RawJSON {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(outcomes.count * 320)
        for (index, outcome) in outcomes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"id":"#.utf8)
            out.append(contentsOf: String(outcome.executionId).utf8)
            out.append(contentsOf: #","attempt":"#.utf8)
            out.append(contentsOf: String(outcome.attempt).utf8)
            out.append(contentsOf: (outcome.succeeded ? #","ok":true,"error":"# : #","ok":false,"error":"#).utf8)
            if let error = outcome.error { JSONValue.writeString(error, into: &out) } else { out.append(contentsOf: "null".utf8) }
            out.append(contentsOf: #","steps":"#.utf8)
            outcome.steps.write(into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return RawJSON(bytes: out)
    }

    /// `RecordResults`' rows counted by "status trigger_type".
    private static func tally<Rows: AsyncSequence>(_ rows: Rows) async throws -> [String: Int] where Rows.Element == (String, String) {
        var counts: [String: Int] = [:]
        for try await (status, type) in rows { counts["\(status) \(type)", default: 0] += 1 }
        return counts
    }

    /// Counts finished runs by "status trigger_type".
    private func countFinished(_ counts: [String: Int]) {
        for (key, count) in counts {
            let parts = key.split(separator: " ").map(String.init)
            metrics?.runsFinished(
                count, status: ExecutionStatus(rawValue: parts[0]) ?? .failed, triggerType: ExecutionTriggerType(rawValue: parts[1]) ?? .manual)
        }
    }

    /// The outcomes of a batch ($1, a JSON array) as a table.
    static let outcomesTable = "jsonb_to_recordset($1::jsonb) AS o(id bigint, attempt int, ok boolean, error text, steps jsonb)"

    /// Final results, prepared once per connection: the jobs leave the queue, the runs get
    /// their status, and the cascader hears of each. Only jobs still leased to $2, for the
    /// attempt reported, count.
    ///
    /// A run of a workflow that no enabled dependency trigger follows is marked cascaded here:
    /// the cascader would only mark it, with a second write of the row, and at a burst of
    /// 10,000 scheduled runs that marking was the largest cost in the database. Whether a
    /// downstream run follows is thus decided when the upstream finishes; a run that may have
    /// one joins the cascader's backlog. No index names a column written here, so the row is
    /// updated in place (see sql/005_hot_finish.sql).
    struct RecordResults: PostgresPreparedStatement {
        static let sql = """
            WITH \(recordCTEs)
            SELECT status, trigger_type, pg_notify('\(NotificationChannel.executionFinished.rawValue)', id::text)::text FROM done
            """
        typealias Row = (String, String)
        let outcomes: RawJSON
        let workerID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            try bindings.append(outcomes)
            bindings.append(workerID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> (String, String) {
            let (status, type, _) = try row.decode((String, String, String?).self)
            return (status, type)
        }
    }

    /// The CTEs of `RecordResults` ($1 the outcomes, $2 the worker), ending in `done`: the runs
    /// whose results counted.
    static let recordCTEs = """
        o AS (SELECT * FROM \(outcomesTable)), job AS (
            DELETE FROM flowforge.jobs j USING o
            WHERE j.execution_id = ANY(ARRAY(SELECT id FROM o)) AND j.execution_id = o.id AND j.attempt = o.attempt AND j.locked_by = $2
            RETURNING j.execution_id
        ), done AS (
            UPDATE flowforge.executions e
            SET status = CASE WHEN o.ok THEN 'completed' ELSE 'failed' END,
                finished_at = clock_timestamp(), error = o.error, steps = o.steps,
                cascaded_at = CASE WHEN EXISTS (
                    SELECT 1 FROM flowforge.workflow_triggers t
                    WHERE t.depends_on_workflow_id = e.workflow_id AND t.trigger_type = 'dependency' AND t.enabled
                ) THEN NULL ELSE clock_timestamp() END
            FROM job JOIN o ON o.id = job.execution_id
            WHERE e.id = job.execution_id AND e.status = 'running'
            RETURNING e.id, e.status, e.trigger_type, e.finished_at, e.cascaded_at IS NULL AS cascades
        ), backlog AS (
            INSERT INTO flowforge.cascade_backlog (execution_id, finished_at)
            SELECT id, finished_at FROM done WHERE cascades
        )
        """

    /// A busy worker's one statement per batch: `RecordResults` ($1 the outcomes, $2 the
    /// worker) and `ClaimUnlimited` ($3 the lease, $4 the batch size) together, so that
    /// writing a batch of results and taking the next batch is one round trip and one commit
    /// (a transaction around the two statements took four round trips). The rows are the
    /// claim's; each also carries what the results counted, by "status trigger_type". The two
    /// halves touch different rows: the claim takes only unleased jobs, and these results'
    /// jobs are leased to this worker until the statement ends.
    struct RecordResultsAndClaim: PostgresPreparedStatement {
        static let sql = """
            WITH \(recordCTEs), recorded AS (
                SELECT status || ' ' || trigger_type AS kind, pg_notify('\(NotificationChannel.executionFinished.rawValue)', id::text) FROM done
            ), tally AS (
                SELECT array_agg(kind) AS kinds, array_agg(n) AS counts FROM (SELECT kind, count(*) AS n FROM recorded GROUP BY kind) k
            ), \(leaseCTEs(due: unlimitedDue(limit: "$4"), worker: "$2", lease: "$3"))
            SELECT claimed.*, \(limitedDueSQL) AS limited_due, tally.kinds, tally.counts
            FROM tally LEFT JOIN claimed ON true
            """
        typealias Row = PostgresRow
        let outcomes: RawJSON
        let workerID: String
        let leaseSeconds: Int
        let limit: Int

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            try bindings.append(outcomes)
            bindings.append(workerID)
            bindings.append(leaseSeconds)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Gives claimed jobs back without spending an attempt (a worker shutting down).
    public func release(_ attempts: [RunAttempt], workerID: String) async throws {
        guard !attempts.isEmpty else { return }
        let ids = attempts.map(\.executionId), numbers = attempts.map(\.attempt)
        try await client.withOpenTransaction(logger: logger) { connection in
            try await connection.query(
                """
                WITH job AS (
                    UPDATE flowforge.jobs j SET locked_by = NULL, lease_expires_at = NULL,
                        limited = coalesce((SELECT \(unescaped: RunEnqueue.limited(overlapPolicy: "w.overlap_policy")) FROM flowforge.workflows w WHERE w.id = j.workflow_id), false)
                    FROM unnest(\(ids)::bigint[], \(numbers)::int[]) AS held(id, attempt)
                    WHERE j.execution_id = ANY(\(ids)) AND j.execution_id = held.id AND j.attempt = held.attempt AND j.locked_by = \(workerID)
                    RETURNING j.execution_id
                )
                UPDATE flowforge.executions e SET status = 'queued', started_at = NULL, worker_id = NULL
                FROM job WHERE e.id = job.execution_id AND e.status = 'running'
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(NotificationChannel.jobs.rawValue), 'released')", logger: logger)
        }
    }
}

/// Reads claimed runs; a workflow's steps are decoded only when `StepsCache` does not have them.
struct ClaimedRunDecoder {
    let stepsCache: StepsCache
    /// Whether the statement saw a limited workflow's job due: read from the first row, as
    /// every row carries the same value.
    private(set) var limitedDue = false
    private var sawFirstRow = false

    init(stepsCache: StepsCache) {
        self.stepsCache = stepsCache
    }

    /// The run in a claim's row; nil for the row that only carries `limited_due` and
    /// `next_due_in`. Columns are read by position, in the order of `QueueStore.leaseSQL`'s
    /// `RETURNING` (a name lookup per column was a tenth of a busy worker's time).
    mutating func decode(_ row: PostgresRandomAccessRow) throws -> ClaimedRun? {
        if !sawFirstRow {
            sawFirstRow = true
            limitedDue = try row[14].decode(Bool.self)
        }
        guard let workflowId = try row[2].decode(Int64?.self) else { return nil }
        let cell = row[13]
        let workflowSteps = try stepsCache.steps(of: workflowId, stored: cell.bytes) {
            try Step.list(stored: cell.decode(JSONValue.self))
        }
        return ClaimedRun(
            executionId: try row[0].decode(Int64.self),
            workflowId: workflowId,
            workflowName: try row[3].decode(String.self),
            triggerId: try row[4].decode(Int64?.self),
            triggerType: ExecutionTriggerType(rawValue: try row[5].decode(String.self)) ?? .manual,
            scheduledFor: try row[6].decode(Date?.self),
            attempt: try row[7].decode(Int.self),
            maxAttempts: try row[10].decode(Int.self),
            retryBackoffSeconds: try row[11].decode(Int.self),
            timeoutSeconds: try row[12].decode(Int.self),
            upstreamExecutionId: try row[8].decode(Int64?.self),
            upstreamStatus: try row[9].decode(String?.self),
            steps: workflowSteps,
            waitedSeconds: try row[1].decode(Double.self))
    }
}

/// The steps of the workflows a worker has claimed runs of, by workflow, with the stored JSON
/// they were decoded from. A claim's rows carry each run's workflow steps; rather than parse
/// them for every run (one run per claim under light load), the bytes are compared, and only
/// a workflow whose bytes changed (an edit) is decoded again. Each `QueueStore` holds its own,
/// so a worker's cache lives as long as the worker.
final class StepsCache: Sendable {
    /// Past this many workflows the cache starts over.
    static let capacity = 1_000

    private let entries = Mutex<[Int64: (stored: ByteBuffer, steps: [Step])]>([:])

    func steps(of workflowId: Int64, stored: ByteBuffer?, decode: () throws -> [Step]) throws -> [Step] {
        guard let stored else { return try decode() }
        if let entry = entries.withLock({ $0[workflowId] }), entry.stored == stored { return entry.steps }
        let steps = try decode()
        // A copy: the cell's bytes are a view into the whole message they arrived in.
        let copy = ByteBuffer(bytes: stored.readableBytesView)
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[workflowId] = (copy, steps)
        }
        return steps
    }
}
