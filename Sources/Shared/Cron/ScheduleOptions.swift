import Foundation

/// What a scheduled trigger may say besides its expression and zone: a jitter, an active
/// window and a daylight-saving policy. The defaults (no jitter, always active, no policy) are
/// the schedule exactly as the expression reads.
public struct ScheduleOptions: Sendable, Equatable {
    /// `jitter_seconds` is at most an hour: a larger spread is a different schedule.
    public static let maxJitterSeconds = 3600

    /// Each run is moved later by a fixed amount in [0, jitterSeconds] (`ScheduleJitter`).
    public var jitterSeconds: Int
    /// No run before this instant.
    public var activeFrom: Date?
    /// No run at or after this instant.
    public var activeUntil: Date?
    /// What a daylight-saving change does; nil follows the rule by hour restriction.
    public var dstPolicy: DSTPolicy?

    public init(jitterSeconds: Int = 0, activeFrom: Date? = nil, activeUntil: Date? = nil, dstPolicy: DSTPolicy? = nil) {
        self.jitterSeconds = jitterSeconds
        self.activeFrom = activeFrom
        self.activeUntil = activeUntil
        self.dstPolicy = dstPolicy.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether a run at `instant` falls in the active window.
    public func isActive(at instant: Date) -> Bool {
        if let activeFrom, instant < activeFrom { return false }
        if let activeUntil, instant >= activeUntil { return false }
        return true
    }
}

/// A trigger's `dst_policy`: what its schedule does with a wall time that a spring-forward gap
/// skips and one that a fall-back overlap repeats. A half left out (nil) keeps the default rule:
/// an hour-restricted expression shifts and fires once, any other skips and fires in both passes.
public struct DSTPolicy: Sendable, Hashable {
    public enum Gap: String, Sendable, CaseIterable {
        /// Run at the first instant after the gap (several times in it collapse into one run).
        case shift
        /// Do not run.
        case skip
    }

    public enum Overlap: String, Sendable, CaseIterable {
        /// Run once, at the first occurrence.
        case first
        /// Run at both occurrences.
        case both
    }

    public var gap: Gap?
    public var overlap: Overlap?

    public init(gap: Gap? = nil, overlap: Overlap? = nil) {
        self.gap = gap
        self.overlap = overlap
    }

    public var isEmpty: Bool { gap == nil && overlap == nil }
}
