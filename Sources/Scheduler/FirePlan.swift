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

    /// The fire times to create for a trigger whose `next_run_at` is `first`, seen at `now`:
    /// on time → that one run; late beyond the threshold → as the misfire policy says.
    static func runTimes(from first: Date, now: Date, schedule: CronSchedule, policy: MisfirePolicy) -> [Date] {
        var missed = [first]
        while let next = schedule.next(after: missed.last!)?.instant, next <= now {
            missed.append(next)
            if missed.count > maxMissedRuns { missed.removeFirst() }
        }
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
    /// The plan for a trigger whose `next_run_at` is `due`, seen at `now`, creating runs up to `horizon`.
    init(schedule: CronSchedule, due: Date, misfire: MisfirePolicy, now: Date, horizon: Date) {
        runs = due <= now ? Self.runTimes(from: due, now: now, schedule: schedule, policy: misfire) : []
        var upcoming = due > now ? due : schedule.next(after: max(now, runs.last ?? now))?.instant
        while let time = upcoming, time <= horizon {
            runs.append(time)
            upcoming = schedule.next(after: time)?.instant
        }
        next = upcoming
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
            guard let expression = try? CronExpression(trigger.cron), let zone = try? CronTimeZone.named(trigger.timezone) else {
                return nil
            }
            return FirePlan(
                schedule: CronSchedule(expression: expression, timeZone: zone), due: trigger.nextRunAt, misfire: trigger.misfire,
                now: now, horizon: horizon)
        }
    }
}
