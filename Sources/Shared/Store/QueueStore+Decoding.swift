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
