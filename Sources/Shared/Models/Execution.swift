import Foundation

/// One run of a workflow, whatever started it. Executions outlive their workflow and trigger,
/// so they keep the names those had.
public struct Execution: Sendable {
    public var id: Int64
    public var workflowId: Int64
    public var workflowName: String
    public var triggerId: Int64?
    public var triggerType: ExecutionTriggerType
    public var triggerName: String?
    public var status: ExecutionStatus
    public var scheduledFor: Date?
    public var queuedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var attempt: Int
    public var workerId: String?
    public var upstreamExecutionId: Int64?
    public var error: String?
    public var steps: JSONValue

    public var json: JSONValue {
        [
            "id": .int(id),
            "workflow_id": .int(workflowId),
            "workflow_name": .string(workflowName),
            "trigger_id": JSONValue(triggerId),
            "trigger_type": .string(triggerType.rawValue),
            "trigger_name": JSONValue(triggerName),
            "status": .string(status.rawValue),
            "scheduled_for": JSONValue(scheduledFor),
            "queued_at": JSONValue(queuedAt),
            "started_at": JSONValue(startedAt),
            "finished_at": JSONValue(finishedAt),
            "duration_ms": JSONValue(durationMilliseconds),
            "attempt": .int(Int64(attempt)),
            "worker_id": JSONValue(workerId),
            "upstream_execution_id": JSONValue(upstreamExecutionId),
            "error": JSONValue(error),
            "steps": steps,
        ]
    }

    public var durationMilliseconds: Int64? {
        guard let startedAt, let finishedAt else { return nil }
        return Int64((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
    }
}

/// An execution as lists answer it: each step is its summary (no output), kept as the JSON text
/// PostgreSQL sent and written out as it is. A page of 200 runs of 20 steps is 700 KB of
/// summaries, which parsing into `JSONValue` only to write it again cost the API most of its
/// time per request.
public struct ExecutionListItem: Sendable {
    /// The run, its `steps` empty: `stepSummaries` stands for them.
    public var execution: Execution
    /// A JSON array, as `flowforge.step_summaries` computed it.
    public var stepSummaries: [UInt8]

    public init(execution: Execution, stepSummaries: [UInt8]) {
        self.execution = execution
        self.stepSummaries = stepSummaries
    }

    /// The execution's JSON object with `steps` the summaries.
    public func write(into out: inout [UInt8]) {
        guard case .object(var fields) = execution.json else { return }
        fields["steps"] = nil
        JSONValue.object(fields).write(into: &out)
        // The object is never empty, so its closing brace follows a field.
        out.removeLast()
        out.append(contentsOf: #","steps":"#.utf8)
        out.append(contentsOf: stepSummaries)
        out.append(UInt8(ascii: "}"))
    }

    /// `{"executions": [...]}` with `fields` after the list, as the list routes answer.
    public static func page(_ items: [ExecutionListItem], with fields: [(String, JSONValue)] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(items.reduce(64) { $0 + $1.stepSummaries.count + 640 })
        out.append(contentsOf: #"{"executions":["#.utf8)
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            item.write(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        for (key, value) in fields {
            out.append(UInt8(ascii: ","))
            JSONValue.string(key).write(into: &out)
            out.append(UInt8(ascii: ":"))
            value.write(into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
