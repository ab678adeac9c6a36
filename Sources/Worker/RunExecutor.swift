import FlowForgeShared
import Foundation

/// Runs a claimed run's steps in order; the first failure fails the run. The workflow's
/// `timeout_seconds` bounds the whole run, each step's own timeout bounds the step.
struct RunExecutor: Sendable {
    var shell = ShellStepRunner()
    var http = HTTPStepRunner()

    func execute(_ run: ClaimedRun) async -> RunOutcome {
        let context = contextEnvironment(for: run)
        let runDeadline = ContinuousClock.now + .seconds(run.timeoutSeconds)
        var results: [StepResult] = []
        for step in run.steps {
            let result: StepResult
            switch step.action {
            case .shell(let command):
                let deadline = min(runDeadline, ContinuousClock.now + .seconds(command.timeoutSeconds))
                result = await shell.run(command, name: step.name, context: context, deadline: deadline)
            case .http(let request):
                result = await http.run(request, name: step.name, context: context)
            case .noop(let milliseconds):
                let startedAt = Date()
                if milliseconds > 0 { try? await Task.sleep(for: .milliseconds(milliseconds)) }
                let cancelled = Task.isCancelled
                result = StepResult(
                    name: step.name, succeeded: !cancelled, exitCode: nil, startedAt: startedAt, finishedAt: Date(), output: "",
                    error: cancelled ? "step \(step.name) was stopped: the run was cancelled" : nil)
            }
            results.append(result)
            if !result.succeeded { break }
        }
        let failure = results.first { !$0.succeeded }
        return RunOutcome(
            executionId: run.executionId, attempt: run.attempt, succeeded: failure == nil, error: failure?.error, steps: .array(results.map(\.json)))
    }
}
