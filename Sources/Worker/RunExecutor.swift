import FlowForgeShared
import Foundation

/// Runs a claimed run's steps in order; the first failure fails the run. The workflow's
/// `timeout_seconds` bounds the whole run, each step's own timeout bounds the step.
struct RunExecutor: Sendable {
    var shell = ShellStepRunner()
    var http = HTTPStepRunner()
    /// The event behind an event run (the webhook body, the file that arrived).
    var loadEvent: @Sendable (_ executionId: Int64) async throws -> EventStore.EventData? = { _ in nil }
    /// Where the steps show while they run; nil: they show only in the result.
    var live: LiveOutput?

    /// Runs the steps; their live output leaves `live` before the outcome is returned, and the
    /// outcome says whether any was written (its result then deletes it).
    func execute(_ run: ClaimedRun) async -> RunOutcome {
        var outcome = await executeSteps(run)
        outcome.hadLiveOutput = live?.ended(run.key) ?? false
        return outcome
    }

    private func executeSteps(_ run: ClaimedRun) async -> RunOutcome {
        // Only a child process or a request sees the context; a run of noop steps skips building it.
        let needsContext = run.steps.contains { step in
            if case .noop = step.action { return false }
            return true
        }
        var context = needsContext ? contextEnvironment(for: run) : [:]
        // A webhook's body reaches the steps as a file, byte for byte, named by
        // FLOWFORGE_EVENT_PAYLOAD_FILE: never on a command line, never in the environment.
        var payloadFile: String?
        defer { if let payloadFile { unlink(payloadFile) } }
        if run.triggerType == .event {
            do {
                let event = try await loadEvent(run.executionId)
                if let payload = event?.payload {
                    let path = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-event-\(run.executionId)-\(UUID().uuidString)").path
                    guard FileManager.default.createFile(atPath: path, contents: Data(payload), attributes: [.posixPermissions: 0o600]) else {
                        throw FlowForgeError.invalid("cannot write \(path)")
                    }
                    // The step user's to read, and nobody else's.
                    if let user = shell.isolation.user, chown(path, user.uid, user.gid) != 0 {
                        unlink(path)
                        throw FlowForgeError.invalid("cannot give \(path) to user \(user.name): \(String(cString: strerror(errno)))")
                    }
                    payloadFile = path
                    context["FLOWFORGE_EVENT_PAYLOAD_FILE"] = path
                }
                if let file = event?.filePath { context["FLOWFORGE_EVENT_FILE"] = file }
            } catch {
                let message = "cannot hand the event to the steps: \(error)"
                return RunOutcome(
                    executionId: run.executionId, attempt: run.attempt, succeeded: false, error: message, steps: .array([]))
            }
        }
        let runDeadline = ContinuousClock.now + .seconds(run.timeoutSeconds)
        var results: [StepResult] = []
        for (index, step) in run.steps.enumerated() {
            let liveStep = live?.started(run.key, step: index, name: step.name)
            let result: StepResult
            switch step.action {
            case .shell(let command):
                let deadline = min(runDeadline, ContinuousClock.now + .seconds(command.timeoutSeconds))
                result = await shell.run(command, name: step.name, context: context, deadline: deadline, live: liveStep)
            case .http(let request):
                let deadline = min(runDeadline, ContinuousClock.now + .seconds(request.timeoutSeconds))
                result = await http.run(request, name: step.name, context: context, deadline: deadline, live: liveStep)
            case .noop(let milliseconds):
                let startedAt = Date()
                if milliseconds > 0 { try? await Task.sleep(for: .milliseconds(milliseconds)) }
                let cancelled = Task.isCancelled
                result = StepResult(
                    name: step.name, succeeded: !cancelled, exitCode: nil, startedAt: startedAt, finishedAt: Date(), output: .empty,
                    error: cancelled ? "step \(step.name) was stopped: the run was cancelled" : nil)
            }
            results.append(result)
            live?.finished(run.key, step: index, result: result.json)
            if !result.succeeded { break }
        }
        let failure = results.first { !$0.succeeded }
        return RunOutcome(
            executionId: run.executionId, attempt: run.attempt, succeeded: failure == nil, error: failure?.error, steps: .array(results.map(\.json)))
    }
}
