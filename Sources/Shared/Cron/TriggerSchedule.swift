import Foundation

/// The times a scheduled trigger runs: its expression in its zone by its daylight-saving
/// policy (`CronSchedule`), each moved by its jitter (`ScheduleJitter`), kept within its active
/// window. Everything that needs a trigger's times asks this one type — the cron ticker's
/// `FirePlan`, `next_run_at`, both previews and the backfill — so they all agree.
///
/// A moved time is the run's time everywhere: its `scheduled_for`, the trigger's `next_run_at`,
/// a preview's `utc`. Moves keep the order of the times (a move never reaches the next
/// unmoved time), so "the first time after t" still means what it says. The window applies to
/// the moved times: none before `activeFrom`, none at or after `activeUntil`.
public struct TriggerSchedule: Sendable {
    public let cron: CronSchedule
    public let options: ScheduleOptions
    /// Whose runs these are: it seeds the jitter. nil (a trigger not saved yet) leaves the times
    /// unmoved, the earliest each run can have.
    public let triggerId: Int64?
    /// The jitter applies (a positive `jitter_seconds` and a trigger to derive it from).
    let jitters: Bool

    public init(expression: CronExpression, timeZone: TimeZone, options: ScheduleOptions = ScheduleOptions(), triggerId: Int64? = nil) {
        self.init(cron: CronSchedule(expression: expression, timeZone: timeZone, dstPolicy: options.dstPolicy), options: options, triggerId: triggerId)
    }

    /// `cron` evaluated by `options.dstPolicy` already.
    public init(cron: CronSchedule, options: ScheduleOptions = ScheduleOptions(), triggerId: Int64? = nil) {
        self.cron = cron
        self.options = options
        self.triggerId = triggerId
        self.jitters = options.jitterSeconds > 0 && triggerId != nil
    }

    /// A stored trigger's schedule; nil when it is no schedule or no longer parses.
    public init?(cron text: String?, timezone: String, options: ScheduleOptions, triggerId: Int64?) {
        guard let text, let expression = try? CronExpression(text), let zone = try? CronTimeZone.named(timezone) else { return nil }
        self.init(expression: expression, timeZone: zone, options: options, triggerId: triggerId)
    }

    /// The first run strictly after `after`; nil when there is none (the window has ended, or
    /// the schedule has no further time before year 10000).
    public func next(after: Date) -> CronFire? {
        var fires = self.fires(after: after)
        return fires.next()
    }

    /// Up to `count` consecutive runs after `after`.
    public func preview(after: Date, count: Int) -> [CronFire] {
        var fires = self.fires(after: after)
        var result: [CronFire] = []
        result.reserveCapacity(max(0, min(count, 1000)))
        while result.count < count, let fire = fires.next() { result.append(fire) }
        return result
    }

    /// Every run in `[from, to)`, in order (a backfill's); nil when there are more than `limit`.
    public func fires(from: Date, to: Date, limit: Int) -> [CronFire]? {
        // Runs fall on whole seconds: the first one at or after `from` is the first after the
        // whole second before it.
        var fires = self.fires(after: Date(timeIntervalSince1970: from.timeIntervalSince1970.rounded(.up) - 1))
        var result: [CronFire] = []
        while let fire = fires.next(), fire.instant < to {
            guard result.count < limit else { return nil }
            result.append(fire)
        }
        return result
    }

    /// The runs strictly after `after`, in order, one at a time: a walk that costs one step of
    /// the cron search per run, jitter or not.
    public func fires(after: Date) -> Fires { Fires(schedule: self, after: after) }

    public struct Fires: IteratorProtocol, Sendable {
        let schedule: TriggerSchedule
        let after: Date
        /// The next unmoved time to look at: found already, or the first after an instant (found
        /// when asked, so a walk without jitter costs one cron step per run and no more).
        var slot: Slot

        enum Slot: Sendable {
            case found(CronFire?)
            case after(Date)
        }

        init(schedule: TriggerSchedule, after: Date) {
            self.schedule = schedule
            self.after = after
            // Earlier than this no run can count: it must be after `after` and not before the window.
            var start = after
            if let from = schedule.options.activeFrom {
                start = max(start, Date(timeIntervalSince1970: from.timeIntervalSince1970.rounded(.up) - 1))
            }
            slot = schedule.jitters ? .found(schedule.firstSlot(movedAfter: start)) : .after(start)
        }

        public mutating func next() -> CronFire? {
            let options = schedule.options
            while true {
                let current: CronFire
                switch slot {
                case .found(let found):
                    guard let found else { return nil }
                    current = found
                case .after(let instant):
                    guard let found = schedule.cron.next(after: instant) else {
                        slot = .found(nil)
                        return nil
                    }
                    current = found
                }
                let fire: CronFire
                if schedule.jitters {
                    // The move is bounded by the next unmoved time, which is also the next to look at.
                    let following = schedule.cron.next(after: current.instant)
                    slot = .found(following)
                    fire = schedule.moved(current, before: following)
                } else {
                    slot = .after(current.instant)
                    fire = current
                }
                if let until = options.activeUntil, fire.instant >= until {
                    // Times only grow: nothing later is inside the window either.
                    slot = .found(nil)
                    return nil
                }
                if fire.instant > after, options.activeFrom.map({ fire.instant >= $0 }) ?? true {
                    return fire
                }
            }
        }
    }

    /// `fire` moved by the trigger's jitter; `following` is the next unmoved time.
    func moved(_ fire: CronFire, before following: CronFire?) -> CronFire {
        let slot = Int64(fire.instant.timeIntervalSince1970)
        let bound = ScheduleJitter.bound(
            jitterSeconds: options.jitterSeconds, slot: slot, following: following.map { Int64($0.instant.timeIntervalSince1970) })
        let seconds = ScheduleJitter.seconds(triggerId: triggerId ?? 0, slot: slot, bound: bound)
        guard seconds > 0 else { return fire }
        let instant = slot + Int64(seconds)
        return CronFire(instant: instant, offset: cron.rules.offset(at: instant), dstAdjusted: fire.dstAdjusted)
    }

    /// The first unmoved time whose moved time may be after `start`: the last one at or before
    /// `start` (its move may carry it past), or else the first one after it. A time more than
    /// `jitter_seconds` before `start` cannot be moved past it, so the search looks back that
    /// far in one step, and when a time is there, for the last one by widening steps back from
    /// `start` (1, 4, 16, … s): an every-minute schedule with an hour's jitter costs half a
    /// dozen cron steps rather than sixty.
    func firstSlot(movedAfter start: Date) -> CronFire? {
        let window = TimeInterval(options.jitterSeconds)
        guard let earliest = cron.next(after: start.addingTimeInterval(-window)) else { return nil }
        guard earliest.instant <= start else { return earliest }
        var last = earliest
        var width = 1.0
        while width < window {
            if let found = cron.next(after: start.addingTimeInterval(-width)), found.instant <= start {
                last = found
                break
            }
            width *= 4
        }
        while let later = cron.next(after: last.instant), later.instant <= start { last = later }
        return last
    }
}
