import FlowForgeShared
import Logging
import PostgresNIO
import Synchronization

/// The scheduler's one LISTEN connection. Each of its services registers the channels that
/// should wake it, and one connection listens on all of them: a connection per service would
/// hold four of a pool's connections for good (a scheduler beside the API shares the API's).
final class SchedulerNotifications: Sendable {
    /// Every channel a scheduler's service listens on.
    static let channels: [NotificationChannel] = [.triggersChanged, .executionFinished, .alerts]

    private struct Listener {
        var channels: Set<NotificationChannel>
        var wake: @Sendable () -> Void
    }

    private let listeners = Mutex<[Listener]>([])

    /// `wake` runs on each notification on one of `channels`, and each time the subscriptions
    /// are (re)made, since whatever was sent meanwhile was missed.
    func register(_ channels: [NotificationChannel], wake: @escaping @Sendable () -> Void) {
        precondition(Set(channels).isSubset(of: Self.channels), "the scheduler does not listen on \(channels)")
        listeners.withLock { $0.append(Listener(channels: Set(channels), wake: wake)) }
    }

    /// Listens until the task is cancelled, reconnecting when the connection drops.
    func run(postgres: PostgresClient, logger: Logger) async {
        await listen(
            Self.channels, postgres: postgres, logger: logger,
            onSubscribed: { self.wake { _ in true } },
            onNotification: { channel, _ in self.wake { $0.contains(channel) } })
    }

    private func wake(where listening: (Set<NotificationChannel>) -> Bool) {
        for listener in listeners.withLock({ $0 }) where listening(listener.channels) { listener.wake() }
    }
}
