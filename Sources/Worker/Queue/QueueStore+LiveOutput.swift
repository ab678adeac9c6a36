import FlowForgeShared
import Foundation
import PostgresNIO

extension QueueStore {
    /// Writes running steps' live output (`LiveOutput`), every change of a flush in one
    /// statement: one row per step, inserted or replaced. Only steps of attempts whose job is
    /// still leased to `workerID` are written, so a run cancelled or rescued meanwhile gets no
    /// row back. Returns how many rows were written.
    ///
    /// Its rows leave after the run's result (`forgetLiveOutput`), with a release, a cancel, lease rescue,
    /// and maintenance's sweep of rows whose attempt holds no lease.
    func writeLiveOutput(_ changes: [LiveOutput.Change], workerID: String) async throws -> Int {
        guard !changes.isEmpty else { return 0 }
        var written = 0
        for try await _ in try await client.execute(WriteLiveOutput(steps: Self.liveOutputJSON(changes), workerID: workerID), logger: logger) {
            written += 1
        }
        return written
    }

    /// `[{"execution_id":…,"attempt":…,"step_index":…,"step":{…}},…]`, as `WriteLiveOutput` reads it.
    static func liveOutputJSON(_ changes: [LiveOutput.Change]) -> RawJSON {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(changes.count * 512)
        for (index, change) in changes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"execution_id":"#.utf8)
            out.append(contentsOf: String(change.attempt.executionId).utf8)
            out.append(contentsOf: #","attempt":"#.utf8)
            out.append(contentsOf: String(change.attempt.attempt).utf8)
            out.append(contentsOf: #","step_index":"#.utf8)
            out.append(contentsOf: String(change.stepIndex).utf8)
            out.append(contentsOf: #","step":"#.utf8)
            change.step.write(into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return RawJSON(bytes: out)
    }

    /// $1 the steps (`liveOutputJSON`), $2 the worker. Prepared once per connection.
    struct WriteLiveOutput: PostgresPreparedStatement {
        static let sql = """
            INSERT INTO flowforge.live_output AS l (execution_id, step_index, attempt, step, updated_at)
            SELECT s.execution_id, s.step_index, s.attempt, s.step, clock_timestamp()
            FROM jsonb_to_recordset($1::jsonb) AS s(execution_id bigint, attempt int, step_index int, step jsonb)
            WHERE EXISTS (
                SELECT 1 FROM flowforge.jobs j WHERE j.execution_id = s.execution_id AND j.attempt = s.attempt AND j.locked_by = $2
            )
            ON CONFLICT (execution_id, step_index) DO UPDATE
            SET attempt = excluded.attempt, step = excluded.step, updated_at = excluded.updated_at
            RETURNING l.execution_id
            """
        typealias Row = Int64
        let steps: RawJSON
        let workerID: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings()
            try bindings.append(steps)
            bindings.append(workerID)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }
}
