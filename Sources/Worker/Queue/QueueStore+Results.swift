import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

extension QueueStore {
    /// Records the ends of attempts, any number in one transaction (the worker collects the
    /// results that arrive while the previous batch is being written). A failure with attempts
    /// left goes back to the queue after the workflow's backoff; anything else is final: the job
    /// leaves the queue and the cascader is told, one notification per run. Only the lease
    /// holder's result counts, so a worker that lost its lease (paused, cut off, the run
    /// cancelled) cannot overwrite what happened since.
    ///
    /// In the same transaction it claims up to `claimLimit` more runs (the slots these results
    /// free, and any others free), so a busy worker needs one transaction, and one commit, per
    /// batch of runs rather than two. With no results it is a claim alone.
    ///
    /// The claim's `nextDueIn` is known only for a claim alone (nil otherwise).
    @discardableResult
    func finish(
        _ outcomes: [RunOutcome], workerID: String, thenClaim claimLimit: Int = 0, leaseSeconds: Int = 30
    ) async throws -> Claim {
        guard !outcomes.isEmpty else { return try await claim(workerID: workerID, limit: claimLimit, leaseSeconds: leaseSeconds) }
        let claimed = try await record(outcomes, workerID: workerID, thenClaim: claimLimit, leaseSeconds: leaseSeconds)
        await forgetLiveOutput(of: outcomes)
        return Claim(runs: claimed, nextDueIn: nil)
    }

    /// Deletes the live output of the attempts that wrote some (runs that ran long enough to be
    /// watched), once their results are written, whether those counted or not: this worker
    /// writes no more of it (`LiveOutput.ended` came before the result), and the run shows its
    /// result now (the API reads live output only while a run is running). A statement of its
    /// own, run only when there is something to delete: in the result's statement it cost a
    /// busy worker's drain of short runs a tenth of its throughput. A failure is logged and
    /// left to maintenance's sweep of rows whose attempt holds no lease.
    private func forgetLiveOutput(of outcomes: [RunOutcome]) async {
        let lived = outcomes.filter(\.hadLiveOutput)
        guard !lived.isEmpty else { return }
        let ids = lived.map(\.executionId), attempts = lived.map(\.attempt)
        do {
            try await client.query(
                """
                DELETE FROM flowforge.live_output l USING unnest(\(ids)::bigint[], \(attempts)::int[]) AS o(id, attempt)
                WHERE l.execution_id = ANY(\(ids)) AND l.execution_id = o.id AND l.attempt <= o.attempt
                """, logger: logger)
        } catch {
            logger.warning("cannot delete finished runs' live output; maintenance will", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// `finish` with at least one result: the statement that fits the batch (only successes
    /// and no claim, successes and a claim, or some failures, which take a transaction).
    private func record(_ outcomes: [RunOutcome], workerID: String, thenClaim claimLimit: Int, leaseSeconds: Int) async throws -> [ClaimedRun] {
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
            var counts: [FinishedKind: Int] = [:]
            var first = true
            let rows = try await client.execute(
                RecordResultsAndClaim(
                    results: RecordResults(outcomes: batch, workerID: workerID), leaseSeconds: leaseSeconds, limit: claimLimit), logger: logger)
            for try await row in rows {
                let row = row.makeRandomAccess()
                if first {
                    first = false
                    let statuses = try row[ClaimColumn.finishedStatuses].decode([String]?.self) ?? []
                    let types = try row[ClaimColumn.finishedTriggerTypes].decode([String]?.self) ?? []
                    let numbers = try row[ClaimColumn.finishedCounts].decode([Int64]?.self) ?? []
                    for ((status, type), number) in zip(zip(statuses, types), numbers) {
                        counts[FinishedKind(status: status, triggerType: type), default: 0] += Int(number)
                    }
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
            if retried > 0 { try await NotificationChannel.jobs.notify("retry", on: connection, logger: logger) }

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

    /// `RecordResults`' rows counted by status and trigger type.
    private static func tally<Rows: AsyncSequence>(_ rows: Rows) async throws -> [FinishedKind: Int] where Rows.Element == (String, String) {
        var counts: [FinishedKind: Int] = [:]
        for try await (status, type) in rows { counts[FinishedKind(status: status, triggerType: type), default: 0] += 1 }
        return counts
    }

    /// Finished runs of one status and trigger type, as the metrics count them.
    struct FinishedKind: Hashable {
        var status: ExecutionStatus
        var triggerType: ExecutionTriggerType

        init(status: String, triggerType: String) {
            self.status = ExecutionStatus(rawValue: status) ?? .failed
            self.triggerType = ExecutionTriggerType(rawValue: triggerType) ?? .manual
        }
    }

    private func countFinished(_ counts: [FinishedKind: Int]) {
        for (kind, count) in counts { metrics?.runsFinished(count, status: kind.status, triggerType: kind.triggerType) }
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
            SELECT status, trigger_type, pg_notify('\(NotificationChannel.executionFinished.rawValue)', id::text)::text FROM done, alerted
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

    /// The CTEs of `RecordResults` ($1 the outcomes, $2 the worker): `done`, the runs whose
    /// results counted, and `alerted`, one row, which raises their alerts in this same
    /// statement (sql/014_alerts.sql's `raise_run_alerts`; one call per batch, which returns at
    /// once when no rule is enabled). Each statement that uses them must read `alerted`.
    /// (The attempts' live output goes after it: `forgetLiveOutput`.)
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
                    SELECT 1 FROM flowforge.trigger_upstreams u JOIN flowforge.workflow_triggers t ON t.id = u.trigger_id
                    WHERE u.upstream_workflow_id = e.workflow_id AND t.enabled
                ) THEN NULL ELSE clock_timestamp() END
            FROM job JOIN o ON o.id = job.execution_id
            WHERE e.id = job.execution_id AND e.status = 'running'
            RETURNING e.id, e.status, e.trigger_type, e.finished_at, e.cascaded_at IS NULL AS cascades
        ), backlog AS (
            INSERT INTO flowforge.cascade_backlog (execution_id, finished_at)
            SELECT id, finished_at FROM done WHERE cascades
        ), alerted AS (
            SELECT flowforge.raise_run_alerts(array_agg(id), array_agg(status)) AS raised FROM done
        )
        """

    /// A busy worker's one statement per batch: `RecordResults` ($1 the outcomes, $2 the
    /// worker) and `ClaimUnlimited` ($3 the lease, $4 the batch size) together, so that
    /// writing a batch of results and taking the next batch is one round trip and one commit
    /// (a transaction around the two statements took four round trips). The rows are the
    /// claim's (`ClaimColumn`); each also carries what the results counted, by status and trigger type. The two
    /// halves touch different rows: the claim takes only unleased jobs, and these results'
    /// jobs are leased to this worker until the statement ends.
    struct RecordResultsAndClaim: PostgresPreparedStatement {
        static let sql = """
            WITH \(recordCTEs), recorded AS (
                SELECT status, trigger_type, pg_notify('\(NotificationChannel.executionFinished.rawValue)', id::text) FROM done
            ), tally AS (
                SELECT array_agg(status) AS statuses, array_agg(trigger_type) AS trigger_types, array_agg(n) AS counts
                FROM (SELECT status, trigger_type, count(*) AS n FROM recorded GROUP BY status, trigger_type) k
            ), \(leaseCTEs(due: unlimitedDue(limit: "$4"), worker: "$2", lease: "$3"))
            SELECT claimed.*, \(limitedDueSQL) AS limited_due, tally.statuses, tally.trigger_types, tally.counts
            FROM tally CROSS JOIN alerted LEFT JOIN claimed ON true
            """
        typealias Row = PostgresRow
        /// $1 and $2.
        let results: RecordResults
        let leaseSeconds: Int
        let limit: Int

        func makeBindings() throws -> PostgresBindings {
            var bindings = try results.makeBindings()
            bindings.append(leaseSeconds)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// Gives claimed jobs back without spending an attempt (a worker shutting down).
    func release(_ attempts: [RunAttempt], workerID: String) async throws {
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
                ), live AS (
                    DELETE FROM flowforge.live_output l USING job WHERE l.execution_id = job.execution_id
                )
                UPDATE flowforge.executions e SET status = 'queued', started_at = NULL, worker_id = NULL
                FROM job WHERE e.id = job.execution_id AND e.status = 'running'
                """, logger: logger)
            try await NotificationChannel.jobs.notify("released", on: connection, logger: logger)
        }
    }
}

extension QueueStore {
    /// Whether PostgreSQL refused a statement for the data it carried (a data exception, class
    /// 22, or a program limit, class 54): sending the same data again cannot succeed.
    /// Returns PostgreSQL's message when so, nil otherwise.
    static func refusal(in error: any Error) -> String? {
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
