import FlowForgeShared
import Foundation

/// The cron ticker's rules: for one due scheduled trigger, which runs to create and when it
/// next fires. Pure: the ticker's store reads the due triggers under lock, hands each to
/// `FirePlan.init`, and writes what comes back in the same transaction.
///
/// - A run whose time came less than `misfireThreshold` ago is on time and is created.
/// - Runs later than that were missed, and the trigger's misfire policy decides: `skip`
///   creates none of them, `run_once` the latest, `run_all` each (at most `maxMissedRuns`).
/// - Runs whose time falls within the look-ahead (up to `horizon`) are created now, each with
///   its own `scheduled_for`, and wait in the queue until then.
/// - The trigger's `next_run_at` becomes the first time after all of those; a schedule with no
///   further time (a 29 February in a zone that stops existing) leaves it empty.
struct FirePlan: Equatable, Sendable {
    /// Runs later than this after their time count as missed, and the misfire policy decides.
    static let misfireThreshold: TimeInterval = 60
    /// `run_all` creates at most this many missed runs per trigger.
    static let maxMissedRuns = 100

    /// The `scheduled_for` of each run to create, in order.
    var runs: [Date]
    /// The trigger's next fire time after those runs; nil when its schedule has none.
    var next: Date?

    /// The runs to create, seen at `now`, of a trigger whose times up to `now` are `missed` (its
    /// `next_run_at` first, at most `maxMissedRuns` of them, the latest): on time → that one
    /// run; late beyond the threshold → as the misfire policy says.
    static func runTimes(missed: [Date], now: Date, policy: MisfirePolicy) -> [Date] {
        let late = now.timeIntervalSince(missed.last!) > misfireThreshold
        guard late || missed.count > 1 else { return missed }
        switch policy {
        case .skip:
            // Only a run still within the threshold is on time; the rest were missed.
            return now.timeIntervalSince(missed.last!) <= misfireThreshold ? [missed.last!] : []
        case .runOnce: return [missed.last!]
        case .runAll: return missed
        }
    }
}

extension FirePlan {
    /// The plan for a trigger whose `next_run_at` is `due`, seen at `now`, creating runs up to
    /// `horizon`. One walk over the schedule's times from `due` on: the missed ones, then those
    /// within the look-ahead, then the next one.
    init(schedule: TriggerSchedule, due: Date, misfire: MisfirePolicy, now: Date, horizon: Date) {
        var fires = schedule.fires(after: due)
        var upcoming: Date?
        if due <= now {
            var missed = [due]
            upcoming = fires.next()?.instant
            while let time = upcoming, time <= now {
                missed.append(time)
                if missed.count > Self.maxMissedRuns { missed.removeFirst() }
                upcoming = fires.next()?.instant
            }
            runs = Self.runTimes(missed: missed, now: now, policy: misfire)
        } else {
            runs = []
            upcoming = due
        }
        while let time = upcoming, time <= horizon {
            runs.append(time)
            upcoming = fires.next()?.instant
        }
        if schedule.options.activeFrom != nil || schedule.options.activeUntil != nil {
            // `due` was stored before the window changed; nothing outside it runs.
            runs.removeAll { !schedule.options.isActive(at: $0) }
        }
        next = upcoming
    }

    /// The plan for a schedule without options (no jitter, window or DST policy).
    init(schedule: CronSchedule, due: Date, misfire: MisfirePolicy, now: Date, horizon: Date) {
        self.init(schedule: TriggerSchedule(cron: schedule), due: due, misfire: misfire, now: now, horizon: horizon)
    }
}

extension SchedulerStore {
    /// Fires the scheduled triggers due by `now + lookahead` as `FirePlan` says: creates their
    /// runs and advances `next_run_at`, in one transaction. Returns how many runs it created.
    /// A stored expression or zone that no longer parses switches its trigger off rather than
    /// failing every tick.
    public func fireDueTriggers(now: Date, lookahead: TimeInterval = 0, limit: Int = 500) async throws -> Int {
        let horizon = now.addingTimeInterval(max(0, lookahead))
        return try await fireDueTriggers(dueBy: horizon, limit: limit, now: now) { trigger in
            guard let schedule = TriggerSchedule(cron: trigger.cron, timezone: trigger.timezone, options: trigger.options, triggerId: trigger.id)
            else { return nil }
            return FirePlan(schedule: schedule, due: trigger.nextRunAt, misfire: trigger.misfire, now: now, horizon: horizon)
        }
    }
}
