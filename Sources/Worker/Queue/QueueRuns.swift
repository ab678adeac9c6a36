import FlowForgeShared
import Foundation

/// A run a worker has claimed: everything it needs to execute the steps.
struct ClaimedRun: Sendable {
    var executionId: Int64
    var workflowId: Int64
    var workflowName: String
    var triggerId: Int64?
    var triggerType: ExecutionTriggerType
    var scheduledFor: Date?
    var attempt: Int
    var maxAttempts: Int
    var retryBackoffSeconds: Int
    var timeoutSeconds: Int
    var upstreamExecutionId: Int64?
    var upstreamStatus: String?
    var steps: [Step]
    /// From the moment the job became due (its `run_at`) to this claim, by the database's clock.
    var waitedSeconds: Double
    /// The run's parameters (`RunParams`); nil for none.
    var params: JSONValue? = nil

    var key: RunAttempt { RunAttempt(executionId: executionId, attempt: attempt) }
}

/// One attempt of a run, as a worker holds it. The attempt is the lease's fencing token: a
/// worker that stalled past its lease (paused, cut off) may find the same run claimed again,
/// even by itself after it resumes, and its late word about the old attempt must then count
/// for nothing.
struct RunAttempt: Hashable, Sendable {
    var executionId: Int64
    var attempt: Int
}

/// What a worker reports when a run's attempt ends.
struct RunOutcome: Sendable {
    var executionId: Int64
    /// The attempt that ended; only the holder of that attempt's lease is heard.
    var attempt: Int
    var succeeded: Bool
    var error: String?
    /// `[{"name","status","exit_code","started_at","finished_at","output"}]`
    var steps: JSONValue
    /// Whether live output of this attempt was written (`LiveOutput`): the worker deletes it
    /// after writing the result (`QueueStore.forgetLiveOutput`).
    var hadLiveOutput = false

    var key: RunAttempt { RunAttempt(executionId: executionId, attempt: attempt) }
}

extension RunOutcome {
    /// This outcome as it is recorded when the database refused it: failed, with the reason,
    /// and its steps without their output (the part a database refuses).
    func refused(because reason: String) -> RunOutcome {
        let steps = (steps.arrayValue ?? []).map { step -> JSONValue in
            guard case .object(var fields) = step else { return step }
            fields["output"] = nil
            fields["output_base64"] = nil
            return .object(fields)
        }
        return RunOutcome(
            executionId: executionId, attempt: attempt, succeeded: false,
            error: "the run's result could not be stored, so it is recorded as failed: the database refused it (\(reason))",
            steps: .array(steps), hadLiveOutput: hadLiveOutput)
    }
}
