import FlowForgeShared
import Foundation

/// How one step ended, as the execution's `steps` array records it.
struct StepResult: Sendable {
    var name: String
    var succeeded: Bool
    var exitCode: Int32?
    var startedAt: Date
    var finishedAt: Date
    var output: String
    /// Why it failed, in a sentence; nil when it succeeded.
    var error: String?

    var json: JSONValue {
        [
            "name": .string(name),
            "status": .string(succeeded ? "completed" : "failed"),
            "exit_code": exitCode.map { .int(Int64($0)) } ?? .null,
            "started_at": JSONValue(startedAt),
            "finished_at": JSONValue(finishedAt),
            "output": .string(output),
        ]
    }
}

/// Captured output is bounded: the tail is what explains a failure.
let maxOutputBytes = 65_536

/// The environment every step gets: FlowForge's context, never interpolated into a command line.
func contextEnvironment(for run: ClaimedRun) -> [String: String] {
    var environment = [
        "FLOWFORGE_EXECUTION_ID": String(run.executionId),
        "FLOWFORGE_WORKFLOW_ID": String(run.workflowId),
        "FLOWFORGE_WORKFLOW_NAME": run.workflowName,
        "FLOWFORGE_TRIGGER_TYPE": run.triggerType.rawValue,
        "FLOWFORGE_ATTEMPT": String(run.attempt),
    ]
    if let triggerId = run.triggerId { environment["FLOWFORGE_TRIGGER_ID"] = String(triggerId) }
    if let scheduledFor = run.scheduledFor { environment["FLOWFORGE_SCHEDULED_FOR"] = Timestamp.format(scheduledFor) }
    if let upstream = run.upstreamExecutionId { environment["FLOWFORGE_UPSTREAM_EXECUTION_ID"] = String(upstream) }
    if let status = run.upstreamStatus { environment["FLOWFORGE_UPSTREAM_STATUS"] = status }
    return environment
}
