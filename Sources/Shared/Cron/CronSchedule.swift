import Foundation

/// A cron expression evaluated in an IANA time zone: the instants at which it fires.
///
/// The search walks the zone's stretches of constant UTC offset. Inside one stretch wall time
/// and instants correspond one to one, so the expression's next wall time maps straight to an
/// instant. At a stretch's edges the DESIGN rules apply:
/// - spring-forward gap: an hour-restricted expression whose wall time falls in the gap fires
///   once, at the first instant after the gap; otherwise the skipped times are skipped;
/// - fall-back overlap: an hour-restricted expression fires only in the first pass (the second
///   pass is skipped); otherwise it fires in both.
/// A trigger's `DSTPolicy` chooses either rule for itself, for the gap and the overlap apart.
public struct CronSchedule: Sendable {
    public let expression: CronExpression
    public let timeZone: TimeZone
    let rules: CronZoneRules
    /// A wall time in a spring-forward gap runs at the first instant after it (else it is skipped).
    let shiftsGap: Bool
    /// A repeated wall time runs in the first pass only (else in both).
    let firesOverlapOnce: Bool

    /// Far enough for any expression that passed parsing: the rarest ("the fifth Monday of
    /// February") recur within a few decades, and the calendar repeats every 400 years.
    static let horizonSeconds: Int64 = 401 * 366 * 86_400
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years RFC 3339 can write.
    static let earliest: Int64 = -62_135_596_800
    static let latest: Int64 = 253_402_300_799

    /// `dstPolicy`: what the gap and the overlap do; a half it leaves out (or no policy) follows
    /// the rule by hour restriction.
    public init(expression: CronExpression, timeZone: TimeZone, dstPolicy: DSTPolicy? = nil) {
        self.expression = expression
        self.timeZone = timeZone
        self.rules = CronZoneRulesCache.shared.rules(for: timeZone)
        let restricted = expression.isHourRestricted
        self.shiftsGap = dstPolicy?.gap.map { $0 == .shift } ?? restricted
        self.firesOverlapOnce = dstPolicy?.overlap.map { $0 == .first } ?? restricted
    }

    /// The first fire strictly after `after`; nil when there is none before year 10000.
    public func next(after: Date) -> CronFire? {
        let seconds = after.timeIntervalSince1970
        guard !seconds.isNaN, seconds < Double(Self.latest) else { return nil }
        // Fires fall on whole seconds, so "after t" is "after floor(t)".
        let start = seconds < Double(Self.earliest) ? Self.earliest - 1 : Int64(seconds.rounded(.down))
        guard let (instant, offset, adjusted) = nextInstant(after: start),
              instant <= Self.latest, instant + offset <= Self.latest  // both the instant and its wall time fit RFC 3339
        else { return nil }
        return CronFire(instant: instant, offset: offset, dstAdjusted: adjusted)
    }

    /// Up to `count` consecutive fires after `after`.
    public func preview(after: Date, count: Int) -> [CronFire] {
        var fires: [CronFire] = []
        fires.reserveCapacity(max(0, min(count, 1000)))
        var cursor = after
        while fires.count < count, let fire = next(after: cursor) {
            fires.append(fire)
            cursor = fire.instant
        }
        return fires
    }

    /// Every fire in `[from, to)`, in order (a backfill's runs); nil when there are more than
    /// `limit`.
    public func fires(from: Date, to: Date, limit: Int) -> [CronFire]? {
        var fires: [CronFire] = []
        // Fires fall on whole seconds: the first one at or after `from` is the first after the
        // whole second before it.
        var cursor = Date(timeIntervalSince1970: (from.timeIntervalSince1970.rounded(.up)) - 1)
        while let fire = next(after: cursor), fire.instant < to {
            guard fires.count < limit else { return nil }
            fires.append(fire)
            cursor = fire.instant
        }
        return fires
    }

    /// (instant, UTC offset there, moved out of a gap).
    private func nextInstant(after: Int64) -> (Int64, Int64, Bool)? {
        var segment = rules.segment(containing: after)
        var from = after + 1
        let horizon = after + segment.offset + Self.horizonSeconds
        var search = MatchMemo()

        while true {
            let offset = segment.offset
            var wallFrom = max(from, segment.start) + offset
            if firesOverlapOnce, segment.previousOffset > offset {
                // The first pass of the repeated hour was the previous stretch.
                wallFrom = max(wallFrom, segment.start + segment.previousOffset)
            }
            guard wallFrom < horizon,
                  let wall = search.firstMatch(expression, atOrAfter: wallFrom, before: horizon)
            else { return nil }
            if segment.end == .max || wall < segment.end + offset {
                return (wall - offset, offset, false)
            }
            if shiftsGap, segment.nextOffset > offset, wall < segment.end + segment.nextOffset {
                // Wall time in the gap: fire as the clock lands after it. If that landing time is
                // itself scheduled, the run is simply that one.
                let landing = segment.end + segment.nextOffset
                return (segment.end, segment.nextOffset, !expression.matches(wall: landing))
            }
            from = segment.end
            segment = rules.segment(containing: segment.end)
        }
    }
}

/// Remembers the last search so that walking from one offset stretch to the next does not
/// search the same months again when the next match is far away.
private struct MatchMemo {
    var from: Int64 = .max
    var match: Int64 = .max

    mutating func firstMatch(_ expression: CronExpression, atOrAfter wallFrom: Int64, before limit: Int64) -> Int64? {
        if match != .max {
            if wallFrom >= from, wallFrom <= match {
                return match
            }
            if wallFrom < from {
                if let earlier = expression.firstWallMatch(atOrAfter: wallFrom, before: from) {
                    return remember(from: wallFrom, match: earlier)
                }
                from = wallFrom
                return match
            }
        }
        guard let found = expression.firstWallMatch(atOrAfter: wallFrom, before: limit) else { return nil }
        return remember(from: wallFrom, match: found)
    }

    private mutating func remember(from: Int64, match: Int64) -> Int64 {
        self.from = from
        self.match = match
        return match
    }
}
