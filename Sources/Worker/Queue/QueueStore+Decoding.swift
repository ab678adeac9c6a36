import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import Synchronization

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
    /// `next_due_in`.
    mutating func decode(_ row: PostgresRandomAccessRow) throws -> ClaimedRun? {
        if !sawFirstRow {
            sawFirstRow = true
            limitedDue = try row[ClaimColumn.limitedDue].decode(Bool.self)
        }
        guard let workflowId = try row[.workflowId].decode(Int64?.self) else { return nil }
        let cell = row[.steps]
        let workflowSteps = try stepsCache.steps(of: workflowId, stored: cell.bytes) {
            try Step.list(stored: cell.decode(JSONValue.self))
        }
        return ClaimedRun(
            executionId: try row[.executionId].decode(Int64.self),
            workflowId: workflowId,
            workflowName: try row[.workflowName].decode(String.self),
            triggerId: try row[.triggerId].decode(Int64?.self),
            triggerType: ExecutionTriggerType(rawValue: try row[.triggerType].decode(String.self)) ?? .manual,
            scheduledFor: try row[.scheduledFor].decode(Date?.self),
            attempt: try row[.attempt].decode(Int.self),
            maxAttempts: try row[.maxAttempts].decode(Int.self),
            retryBackoffSeconds: try row[.retryBackoffSeconds].decode(Int.self),
            timeoutSeconds: try row[.timeoutSeconds].decode(Int.self),
            upstreamExecutionId: try row[.upstreamExecutionId].decode(Int64?.self),
            upstreamStatus: try row[.upstreamStatus].decode(String?.self),
            steps: workflowSteps,
            waitedSeconds: try row[.waited].decode(Double.self),
            params: try row[.params].decode(JSONValue?.self))
    }
}

/// The columns of a claim's rows, in order: `QueueStore.leaseCTEs` writes its `RETURNING`
/// list from this enum and `ClaimedRunDecoder` reads each cell at its case's position, so the
/// statement and its reader cannot disagree. (Cells are read by position because a lookup by
/// name for every cell cost a busy worker a tenth of its time.)
enum ClaimColumn: Int, CaseIterable {
    case executionId, waited, workflowId, workflowName, triggerId, triggerType, scheduledFor, attempt
    case upstreamExecutionId, upstreamStatus, maxAttempts, retryBackoffSeconds, timeoutSeconds, steps, params

    /// The expression in the `claimed` CTE (`e` the execution, `leased` its job, `w` its workflow).
    var sql: String {
        switch self {
        case .executionId: "e.id"
        case .waited: "extract(epoch FROM e.started_at - leased.run_at)::float8 AS waited"
        case .workflowId: "e.workflow_id"
        case .workflowName: "e.workflow_name"
        case .triggerId: "e.trigger_id"
        case .triggerType: "e.trigger_type"
        case .scheduledFor: "e.scheduled_for"
        case .attempt: "e.attempt"
        case .upstreamExecutionId: "e.upstream_execution_id"
        case .upstreamStatus: "(SELECT u.status FROM flowforge.executions u WHERE u.id = e.upstream_execution_id) AS upstream_status"
        case .maxAttempts: "w.max_attempts"
        case .retryBackoffSeconds: "w.retry_backoff_seconds"
        case .timeoutSeconds: "w.timeout_seconds"
        case .steps: "w.steps"
        case .params: "e.params"
        }
    }

    static let returning = allCases.map(\.sql).joined(separator: ", ")

    // After the run's columns, the ones every row of a statement shares.
    /// `limited_due`, in every claim statement's rows.
    static let limitedDue = allCases.count
    /// `next_due_in`, in a plain claim's rows.
    static let nextDueIn = limitedDue + 1
    /// The results' tally (`statuses`, `trigger_types`, `counts`), in `RecordResultsAndClaim`'s rows.
    static let finishedStatuses = limitedDue + 1, finishedTriggerTypes = limitedDue + 2, finishedCounts = limitedDue + 3
}

extension PostgresRandomAccessRow {
    subscript(_ column: ClaimColumn) -> PostgresCell { self[column.rawValue] }
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
