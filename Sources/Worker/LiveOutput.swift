import FlowForgeShared
import Foundation
import Synchronization

/// Where a running step's output can be read while it runs: a shell step's process, an http
/// step's answer as it arrives.
protocol LiveOutputSource: AnyObject, Sendable {
    /// How many bytes the step has written so far; its output changed when this did.
    var outputBytes: Int { get }
    /// The output kept so far, bounded as the final output is.
    var outputSoFar: StepOutput { get }
}

/// The steps of this worker's running attempts, as the live output shows them: the runners
/// hand in where each step's output can be read, and `RunDispatcher`'s flush loop takes, at
/// most once a second, the steps whose output changed since it last took them, to write them
/// in one statement (`QueueStore.writeLiveOutput`). Nothing is done per line: a step's output
/// is read only when a flush takes it.
///
/// An attempt's steps leave with `ended(_:)`, before its result is handed to the dispatcher,
/// so a flush that comes after the result can no longer write them (the result's statement
/// deletes what was written).
final class LiveOutput: Sendable {
    /// One step's row, ready to write: the step as GET /api/executions/:id answers it.
    struct Change: Sendable {
        var attempt: RunAttempt
        var stepIndex: Int
        var step: JSONValue
        /// What was written: the output's byte count while it runs, `LiveOutput.finalVersion` once it ended.
        var version: Int
    }

    static let finalVersion = -1

    /// Attempts younger than this are left to the next flush: most runs of a busy worker end
    /// sooner (a no-op, a quick command), and their result alone shows them. A line printed at
    /// the start of a longer step still shows within about 1.25 s.
    let minimumAge: Duration

    init(minimumAge: Duration = .milliseconds(250)) {
        self.minimumAge = minimumAge
    }

    private struct Step {
        var name: String
        var startedAt: Date
        var source: (any LiveOutputSource)?
        /// Set once the step ended: its result as the run's steps record it.
        var final: JSONValue?
        /// The version last taken by a flush; nil before the first.
        var written: Int?
    }

    private struct Attempt {
        let startedAt = ContinuousClock.now
        var steps: [Int: Step] = [:]
        /// Whether any flush took one of its steps (then its rows must be deleted at the end).
        var taken = false
    }

    private let attempts = Mutex<[RunAttempt: Attempt]>([:])

    /// A step starts: it shows as running, with no output yet.
    func started(_ attempt: RunAttempt, step index: Int, name: String, at startedAt: Date = Date()) -> LiveStep {
        attempts.withLock { $0[attempt, default: Attempt()].steps[index] = Step(name: name, startedAt: startedAt) }
        return LiveStep(output: self, attempt: attempt, index: index)
    }

    /// Where the step's output is read from while it runs.
    fileprivate func follow(_ attempt: RunAttempt, step index: Int, _ source: any LiveOutputSource) {
        attempts.withLock { $0[attempt]?.steps[index]?.source = source }
    }

    /// The step ended: from now on it shows its result.
    func finished(_ attempt: RunAttempt, step index: Int, result: JSONValue) {
        attempts.withLock { attempts in
            attempts[attempt]?.steps[index]?.final = result
            attempts[attempt]?.steps[index]?.source = nil
        }
    }

    /// The attempt is over (its result goes to the dispatcher next). Returns whether a flush
    /// took any of its steps, so that their rows are deleted after its result.
    func ended(_ attempt: RunAttempt) -> Bool {
        attempts.withLock { $0.removeValue(forKey: attempt)?.taken ?? false }
    }

    /// Steps of running attempts now.
    var stepCount: Int { attempts.withLock { $0.values.reduce(0) { $0 + $1.steps.count } } }

    /// The steps whose output or state changed since a flush last took them, marked as taken.
    /// A write that fails hands them back with `untake(_:)`.
    func takeChanges() -> [Change] {
        // The output is copied outside the lock: a step starting or ending does not wait for
        // 64 KiB copies of its neighbours.
        struct Candidate {
            var attempt: RunAttempt, index: Int, name: String, startedAt: Date
            var source: (any LiveOutputSource)?, final: JSONValue?, written: Int?
        }
        let now = ContinuousClock.now
        let candidates: [Candidate] = attempts.withLock { attempts in
            attempts.flatMap { attempt, entry in
                guard now - entry.startedAt >= minimumAge else { return [Candidate]() }
                return entry.steps.map { index, step in
                    Candidate(
                        attempt: attempt, index: index, name: step.name, startedAt: step.startedAt, source: step.source,
                        final: step.final, written: step.written)
                }
            }
        }
        var changes: [Change] = []
        for candidate in candidates {
            if let final = candidate.final {
                if candidate.written != Self.finalVersion {
                    changes.append(Change(attempt: candidate.attempt, stepIndex: candidate.index, step: final, version: Self.finalVersion))
                }
                continue
            }
            // A step with nothing written yet still shows, as running.
            if let written = candidate.written, written == candidate.source?.outputBytes ?? 0 { continue }
            let output = candidate.source?.outputSoFar ?? .empty
            if candidate.written == output.totalBytes { continue }
            changes.append(
                Change(
                    attempt: candidate.attempt, stepIndex: candidate.index,
                    step: Self.running(name: candidate.name, startedAt: candidate.startedAt, output: output), version: output.totalBytes))
        }
        guard !changes.isEmpty else { return [] }
        attempts.withLock { attempts in
            for change in changes where attempts[change.attempt]?.steps[change.stepIndex] != nil {
                attempts[change.attempt]?.taken = true
                // A step that ended meanwhile keeps its own state: its final version is still to write.
                if change.version != Self.finalVersion, attempts[change.attempt]?.steps[change.stepIndex]?.final != nil { continue }
                attempts[change.attempt]?.steps[change.stepIndex]?.written = change.version
            }
        }
        return changes
    }

    /// Changes a write did not store: the next flush takes them again.
    func untake(_ changes: [Change]) {
        attempts.withLock { attempts in
            for change in changes where attempts[change.attempt]?.steps[change.stepIndex]?.written == change.version {
                attempts[change.attempt]?.steps[change.stepIndex]?.written = nil
            }
        }
    }

    /// A running step as the execution answers it: its fields as a finished step has them
    /// (`StepResult.json`), status "running", no exit code or end yet, the output so far.
    static func running(name: String, startedAt: Date, output: StepOutput) -> JSONValue {
        var fields: [String: JSONValue] = [
            "name": .string(name),
            "status": "running",
            "exit_code": .null,
            "started_at": JSONValue(startedAt),
            "finished_at": .null,
        ]
        output.describe(into: &fields)
        return .object(fields)
    }
}

/// One step of a running attempt, as its runner reports it to the live output.
struct LiveStep: Sendable {
    let output: LiveOutput
    let attempt: RunAttempt
    let index: Int

    /// The step's output is read from `source` while it runs.
    func follow(_ source: any LiveOutputSource) {
        output.follow(attempt, step: index, source)
    }
}
