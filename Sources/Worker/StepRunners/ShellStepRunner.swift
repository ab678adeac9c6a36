import FlowForgeShared
import Foundation

#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// Runs a shell step: argv as given (no shell unless the user asks for one), in a process group
/// of its own so that a timeout or a cancel stops it and everything it started, as the step
/// user when there is one, with an environment built afresh (see `StepIsolation`).
struct ShellStepRunner: Sendable {
    /// How long a step has between SIGTERM and SIGKILL.
    var killGrace: Duration = .seconds(5)
    var isolation = StepIsolation.sameUser()

    /// - live: where the output shows while the step runs.
    func run(
        _ shell: Step.Shell, name: String, context: [String: String], deadline: ContinuousClock.Instant, live: LiveStep? = nil
    ) async -> StepResult {
        let startedAt = Date()
        var environment = isolation.baseEnvironment
        environment.merge(shell.environment) { _, step in step }
        environment.merge(context) { _, flowforge in flowforge }

        let process: StepProcess
        do {
            process = try StepProcess(
                shell.command, environment: environment, directory: shell.workingDirectory ?? isolation.defaultDirectory,
                user: isolation.user)
        } catch {
            return StepResult(
                name: name, succeeded: false, exitCode: nil, startedAt: startedAt, finishedAt: Date(), output: .empty,
                error: "step \(name): \(error)")
        }
        live?.follow(process)
        let pid = process.pid, exit = process.exit

        var timedOut = false
        var cancelled = false
        let status: Int32
        let timeout = ContinuousClock.now < deadline ? deadline - ContinuousClock.now : .zero
        if let finished = await exit.wait(upTo: timeout) {
            status = finished
        } else {
            timedOut = !Task.isCancelled
            cancelled = Task.isCancelled
            kill(-pid, SIGTERM)
            // Waited for in a task of its own: a cancelled run still gets its grace period.
            let grace = killGrace
            if let finished = await Task(operation: { await exit.wait(upTo: grace) }).value {
                status = finished
            } else {
                kill(-pid, SIGKILL)
                status = await Task(operation: { await exit.wait(upTo: .seconds(60)) }).value ?? SIGKILL
            }
        }

        let (exited, value) = ChildProcess.termination(status)
        let code = exited ? value : 128 + value
        var error: String?
        if timedOut {
            error = "step \(name) timed out after \(shell.timeoutSeconds) s and was stopped"
        } else if cancelled {
            error = "step \(name) was stopped: the run was cancelled"
        } else if !exited {
            error = "step \(name) was killed by signal \(value)"
        } else if code != 0 {
            error = "step \(name) exited with code \(code)"
        }
        return StepResult(
            name: name, succeeded: error == nil, exitCode: code, startedAt: startedAt, finishedAt: Date(), output: process.output,
            error: error)
    }
}

/// The exit status of a child, delivered once by the thread that waits for it.
final class ProcessExit: Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<Void, Never>
        let alarm: Alarm
    }

    private struct State {
        var status: Int32?
        var waiters: [UUID: Waiter] = [:]
    }

    private let state = Mutex(State())

    func finish(_ status: Int32) {
        let waiting = state.withLock { state in
            state.status = status
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiting {
            waiter.alarm.cancel()
            waiter.continuation.resume()
        }
    }

    /// Wakes one waiter, once: whichever of exit, timeout or cancellation comes first. Its
    /// alarm is called off, so nothing is left waiting for a step's timeout once it exited.
    private func wake(_ id: UUID) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.alarm.cancel()
        waiter.continuation.resume()
    }

    /// The status, or nil if the child still runs after `timeout` or the task is cancelled.
    func wait(upTo timeout: Duration) async -> Int32? {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let finished = state.withLock { state in
                    if state.status != nil || Task.isCancelled { return true }
                    // Armed under the lock: an alarm that goes off at once waits for the lock
                    // and then finds its waiter kept.
                    state.waiters[id] = Waiter(continuation: continuation, alarm: Alarm(after: timeout) { [weak self] in self?.wake(id) })
                    return false
                }
                if finished { continuation.resume() }
            }
        } onCancel: {
            wake(id)
        }
        return state.withLock { $0.status }
    }
}
