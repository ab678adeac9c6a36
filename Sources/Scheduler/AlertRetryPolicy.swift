import FlowForgeShared
import Foundation

/// When a failed delivery is tried again: after `base`, doubling each attempt up to `cap`,
/// for as long as the alert is younger than `window`. An attempt made once the window has
/// passed is the last; a receiver that refused the message itself is not asked again.
public struct AlertRetryPolicy: Sendable, Equatable {
    public var base: Duration = .seconds(5)
    public var cap: Duration = .seconds(600)
    /// How long after an alert was raised its delivery is still tried: at least an hour, so a
    /// receiver down for a deploy or a short outage still gets it.
    public var window: Duration = .seconds(3600)

    public init() {}

    public enum Decision: Equatable, Sendable {
        case delivered
        case retry(at: Date)
        case failed
    }

    /// What follows attempt number `attempt` (1 for the first) of a delivery raised at `raisedAt`.
    func decide(_ result: AlertDeliveryResult, attempt: Int, raisedAt: Date, now: Date) -> Decision {
        if result.delivered { return .delivered }
        guard result.retryable, now.timeIntervalSince(raisedAt) < window.seconds else { return .failed }
        return .retry(at: now.addingTimeInterval(delay(after: attempt).seconds))
    }

    /// The wait after failed attempt `attempt`: base, 2 × base, 4 × base, …, at most `cap`.
    func delay(after attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let delay = base.seconds * pow(2, Double(doublings))
        return .milliseconds(Int64(min(delay, cap.seconds) * 1000))
    }
}
