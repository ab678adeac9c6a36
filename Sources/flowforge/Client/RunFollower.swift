import FlowForgeShared
import Foundation

/// Follows one execution until it ends: prints each status it passes through and, with
/// `showOutput`, the output its steps print as the execution's answer carries it; then the
/// final status and a line per step. Returns the last answer.
struct RunFollower {
    let client: APIClient
    var showOutput: Bool
    var interval: Duration = .milliseconds(500)

    static let finalStatuses: Set<String> = ["completed", "failed", "cancelled", "skipped"]

    func follow(_ id: Int64) async throws -> JSONValue {
        var lastStatus: String?
        var printed: [Int: String] = [:]
        while true {
            let execution = try await client.get("/api/executions/\(id)")
            let status = execution.text("status")
            // What the steps printed comes before the status it led to.
            if showOutput { printNewOutput(execution, &printed) }
            if status != lastStatus {
                say("execution \(id): \(status)")
                lastStatus = status
            }
            if Self.finalStatuses.contains(status) {
                say(Self.summary(execution))
                return execution
            }
            try await Task.sleep(for: interval)
        }
    }

    /// What each step printed since the last look. A step's output is a bounded tail: when its
    /// start moved on, the part after what was already shown is found by its last line.
    private func printNewOutput(_ execution: JSONValue, _ printed: inout [Int: String]) {
        for (index, step) in execution.list("steps").enumerated() {
            guard let output = step["output"]?.stringValue, !output.isEmpty else { continue }
            let before = printed[index] ?? ""
            guard output != before else { continue }
            if before.isEmpty { say("--- step \(step.text("name"))") }
            var fresh = Substring(output)
            if output.hasPrefix(before) {
                fresh = output.dropFirst(before.count)
            } else if let anchor = before.split(separator: "\n").last, let range = output.range(of: anchor, options: .backwards) {
                fresh = output[range.upperBound...]
            }
            FileHandle.standardOutput.write(Data(fresh.utf8))
            if !output.hasSuffix("\n") && fresh.isEmpty == false && step.text("status") != "running" { say("") }
            printed[index] = output
        }
    }

    /// "completed in 1.2 s", then a line per step: name, status, exit code, duration.
    static func summary(_ execution: JSONValue) -> String {
        var lines: [String] = []
        var head = "execution \(execution.text("id")) of \(execution.text("workflow_name")): \(execution.text("status"))"
        if let ms = execution["duration_ms"]?.intValue { head += " in \(seconds(ms))" }
        if let error = execution["error"]?.stringValue { head += ": \(error)" }
        lines.append(head)
        let rows = execution.list("steps").map { step -> [String] in
            var duration = "-"
            if let started = step["started_at"]?.stringValue.flatMap(Timestamp.parse),
                let finished = step["finished_at"]?.stringValue.flatMap(Timestamp.parse)
            {
                duration = seconds(Int64((finished.timeIntervalSince(started) * 1000).rounded()))
            }
            let exit = step["exit_code"]?.intValue.map { "exit \($0)" } ?? "-"
            return ["  " + step.text("name"), step.text("status"), exit, duration]
        }
        if !rows.isEmpty { lines.append(table(["  STEP", "STATUS", "EXIT", "TIME"], rows)) }
        return lines.joined(separator: "\n")
    }

    static func seconds(_ milliseconds: Int64) -> String {
        milliseconds < 10_000 ? String(format: "%.2f s", Double(milliseconds) / 1000) : String(format: "%.0f s", Double(milliseconds) / 1000)
    }
}
