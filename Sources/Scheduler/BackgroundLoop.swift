import FlowForgeShared
import Logging

/// The loop each of the scheduler's services runs: one pass of work, then a wait until the
/// next pass is due. LISTEN on the service's channels only shortens that wait; the interval is
/// what guarantees progress when a notification is lost or the listener is down.
struct BackgroundLoop: Sendable {
    struct Config: Sendable {
        /// The wait between two passes, unless a pass asks for a shorter one.
        var interval: Duration
        /// Channels whose notifications mark `notified` for the next pass; so does every
        /// (re)subscription, since whatever was sent meanwhile was missed.
        var channels: [NotificationChannel]
        /// Whether a notification also ends the wait at once, or is only noted for the next
        /// pass (a service whose passes are costly and whose notifications are not urgent).
        var notificationEndsWait: Bool
        /// What the log says when a pass fails.
        var failure: Logger.Message

        init(interval: Duration, listen channels: [NotificationChannel] = [], notificationEndsWait: Bool = true, failure: Logger.Message) {
            self.interval = interval
            self.channels = channels
            self.notificationEndsWait = notificationEndsWait
            self.failure = failure
        }
    }

    let config: Config
    /// Where the loop's channels are listened on; needed only when it listens.
    let notifications: SchedulerNotifications?
    let logger: Logger

    /// Runs `pass` until the task is cancelled. A pass gets the flag notifications set (it takes
    /// it when it acts on them) and returns how long to wait before the next pass, nil for the
    /// interval. A pass that throws is logged, and the loop waits the interval.
    func run(_ pass: (_ notified: AtomicFlag) async throws -> Duration?) async {
        let wakeup = Wakeup()
        let notified = AtomicFlag()
        if let notifications, !config.channels.isEmpty {
            let endsWait = config.notificationEndsWait
            notifications.register(config.channels) {
                notified.set()
                if endsWait { wakeup.wake() }
            }
        }
        while !Task.isCancelled {
            var wait = config.interval
            do {
                if let asked = try await pass(notified) { wait = asked }
            } catch {
                if Task.isCancelled { break }
                logger.warning(config.failure, metadata: ["error": "\(String(reflecting: error))"])
            }
            await wakeup.wait(upTo: wait)
        }
    }
}
