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
    /// outcome says whether any was written (deleted after its result is).
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
        // Files for the steps (the event's payload, the parameters), removed when the run ends.
        var stepFiles: [String] = []
        defer { for path in stepFiles { unlink(path) } }
        // A webhook's body reaches the steps as a file, byte for byte, named by
        // FLOWFORGE_EVENT_PAYLOAD_FILE: never on a command line, never in the environment.
        if run.triggerType == .event {
            do {
                let event = try await loadEvent(run.executionId)
                if let payload = event?.payload {
                    let path = try stepFile("event", run, payload)
                    stepFiles.append(path)
                    context["FLOWFORGE_EVENT_PAYLOAD_FILE"] = path
                }
                if let file = event?.filePath { context["FLOWFORGE_EVENT_FILE"] = file }
            } catch {
                let message = "cannot hand the event to the steps: \(error)"
                return RunOutcome(
                    executionId: run.executionId, attempt: run.attempt, succeeded: false, error: message, steps: .array([]))
            }
        }
        // The parameters, for every run with a shell step (`{}` when it has none, so that a
        // step can always read the file): the object in FLOWFORGE_PARAMS_FILE, and its strings
        // and numbers as FLOWFORGE_PARAM_<NAME>, each under that prefix, so that none can stand
        // for another of FlowForge's variables or for PATH and the like.
        if run.steps.contains(where: { if case .shell = $0.action { true } else { false } }) {
            do {
                let path = try stepFile("params", run, (run.params ?? .object([:])).encoded())
                stepFiles.append(path)
                context.merge(RunParams.environment(run.params)) { flowforge, _ in flowforge }
                context[RunParams.fileVariable] = path
            } catch {
                let message = "cannot hand the parameters to the steps: \(error)"
                return RunOutcome(
                    executionId: run.executionId, attempt: run.attempt, succeeded: false, error: message, steps: .array([]))
            }
        }
        let runDeadline = ContinuousClock.now + .seconds(run.timeoutSeconds)
        var results: [StepResult] = []
        // Each step's result as JSON, built once for the live output and the outcome alike.
        var recorded: [JSONValue] = []
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
            let json = result.json
            recorded.append(json)
            live?.finished(run.key, step: index, result: json)
            if !result.succeeded { break }
        }
        let failure = results.first { !$0.succeeded }
        return RunOutcome(
            executionId: run.executionId, attempt: run.attempt, succeeded: failure == nil, error: failure?.error, steps: .array(recorded))
    }

    /// Writes `contents` to a new file in the temporary directory that only the step user (the
    /// worker's own user when there is none) can read; returns its path.
    private func stepFile(_ kind: String, _ run: ClaimedRun, _ contents: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowforge-\(kind)-\(run.executionId)-\(UUID().uuidString)").path
        // Created 0600 (O_EXCL: a file someone placed there first is refused), never readable by others.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FlowForgeError.invalid("cannot create \(path): \(String(cString: strerror(errno)))") }
        let written = contents.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        close(fd)
        guard written else {
            unlink(path)
            throw FlowForgeError.invalid("cannot write \(path)")
        }
        // The step user's to read, and nobody else's.
        if let user = shell.isolation.user, chown(path, user.uid, user.gid) != 0 {
            unlink(path)
            throw FlowForgeError.invalid("cannot give \(path) to user \(user.name): \(String(cString: strerror(errno)))")
        }
        return path
    }
}
