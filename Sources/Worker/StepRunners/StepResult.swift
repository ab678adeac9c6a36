import FlowForgeShared
import Foundation

/// How one step ended, as the execution's `steps` array records it.
struct StepResult: Sendable {
    var name: String
    var succeeded: Bool
    var exitCode: Int32?
    var startedAt: Date
    var finishedAt: Date
    var output: StepOutput
    /// Why it failed, in a sentence; nil when it succeeded.
    var error: String?

    var json: JSONValue {
        var fields: [String: JSONValue] = [
            "name": .string(name),
            "status": .string(succeeded ? "completed" : "failed"),
            "exit_code": exitCode.map { .int(Int64($0)) } ?? .null,
            "started_at": JSONValue(startedAt),
            "finished_at": JSONValue(finishedAt),
        ]
        output.describe(into: &fields)
        return .object(fields)
    }
}

/// What a step wrote, as kept: at most `maxOutputBytes` of it, whatever the bytes are.
///
/// PostgreSQL's text and jsonb refuse NUL and invalid UTF-8, and a result the database refuses
/// would be lost. So output that is not clean text is stored twice: `output` shows it with each
/// NUL and each invalid byte replaced by U+FFFD, and `output_base64` keeps the exact bytes;
/// `output_binary` says so.
struct StepOutput: Sendable, Equatable {
    /// The bytes kept: the tail of a shell step's output, the head of an http step's body.
    var kept: [UInt8]
    /// How many bytes the step wrote in all.
    var totalBytes: Int
    /// A line put before the kept bytes when not all were kept (it is not counted in them).
    var cutNote: String?

    static let empty = StepOutput(kept: [], totalBytes: 0, cutNote: nil)

    init(kept: [UInt8], totalBytes: Int, cutNote: String? = nil) {
        self.kept = kept
        self.totalBytes = totalBytes
        self.cutNote = cutNote
    }

    /// Text that is all kept (a runner's own message, a test's value).
    init(text: String) {
        self.init(kept: Array(text.utf8), totalBytes: text.utf8.count)
    }

    var truncated: Bool { totalBytes > kept.count }

    /// Whether the kept bytes are text PostgreSQL can store as they are: UTF-8 without NUL.
    /// A tail cut inside a character is still text: its first bytes are left out of the check.
    var isText: Bool {
        var bytes = kept[...]
        if truncated {
            var skipped = 0
            while skipped < 3, let first = bytes.first, first & 0xC0 == 0x80 {
                bytes = bytes.dropFirst()
                skipped += 1
            }
        }
        guard !bytes.contains(0) else { return false }
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// The kept bytes as text: NUL and every byte that is not UTF-8 become U+FFFD.
    var shown: String {
        let text = String(decoding: kept, as: UTF8.self)
        return text.utf8.contains(0) ? text.replacingOccurrences(of: "\0", with: "\u{FFFD}") : text
    }

    /// `output`, `output_bytes`, and when they apply `output_truncated`, `output_binary` and
    /// `output_base64`.
    func describe(into fields: inout [String: JSONValue]) {
        let text = shown
        fields["output"] = .string(cutNote.map { "\($0)\n\(text)" } ?? text)
        fields["output_bytes"] = .int(Int64(totalBytes))
        if truncated { fields["output_truncated"] = .bool(true) }
        if !isText {
            fields["output_binary"] = .bool(true)
            fields["output_base64"] = .string(Data(kept).base64EncodedString())
        }
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
