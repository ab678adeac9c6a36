import Foundation
import Synchronization

/// Runs `operation` in a task of its own and returns its result, unless an interruption comes
/// first: then it throws the interruption's error at once, cancels the operation and leaves it
/// to finish on its own, its result dropped.
///
/// `arm` is called once, before the operation starts, with the function that interrupts; it
/// returns what disarms it (a timer to cancel, a watch to end), which is called when the
/// operation answers first. Whichever of the two comes first settles the call; the other is
/// ignored.
///
/// The caller's cancellation reaches the operation only with `cancelWithCaller`: a loop that
/// stops on cancellation wants that; a worker writing its last results while it shuts down
/// does not.
///
/// `abandoning` (a deadline) and `PostgresConnection.whileOpen` (the connection closing) are
/// this with different interruptions.
func interruptible<T: Sendable>(
    cancelWithCaller: Bool,
    arm: (_ interrupt: @escaping @Sendable (any Error) -> Void) -> @Sendable () -> Void,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = ResumeOnce()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let disarm = arm { error in
                if once.claim() {
                    once.work?.cancel()
                    continuation.resume(throwing: error)
                }
            }
            once.hold(Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                disarm()
                if once.claim() { continuation.resume(with: result) }
            })
            if cancelWithCaller && Task.isCancelled { once.work?.cancel() }  // cancelled before the handler could see the work
        }
    } onCancel: {
        if cancelWithCaller { once.work?.cancel() }
    }
}

/// True for the first caller only; holds the work, so an interruption can cancel it.
private final class ResumeOnce: Sendable {
    private struct State {
        var done = false
        var work: Task<Void, Never>?
    }

    private let state = Mutex(State())

    var work: Task<Void, Never>? { state.withLock { $0.work } }

    /// Keeps the work; cancels it at once if an interruption already settled the call (a
    /// deadline of zero can pass before the work is even kept).
    func hold(_ work: Task<Void, Never>) {
        let settled = state.withLock { state in
            state.work = work
            return state.done
        }
        if settled { work.cancel() }
    }

    func claim() -> Bool {
        state.withLock { state in
            defer { state.done = true }
            return !state.done
        }
    }
}
