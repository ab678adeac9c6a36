@testable import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Testing

/// The cron ticker's rules on their own, without a database: misfire policies, the threshold,
/// the look-ahead and the next fire time.
@Suite("Fire plan")
struct FirePlanTests {
    static let everyFive = CronSchedule(expression: try! CronExpression("*/5 * * * *"), timeZone: try! CronTimeZone.named("UTC"))
    /// 2026-03-02 10:00:00 UTC.
    static let ten = Date(timeIntervalSince1970: 1_772_445_600)

    static func at(minutes: Double) -> Date { ten.addingTimeInterval(minutes * 60) }

    @Test("on time: the due run, and next_run_at five minutes on")
    func onTime() {
        let plan = FirePlan(schedule: Self.everyFive, due: Self.ten, misfire: .skip, now: Self.at(minutes: 0.5), horizon: Self.at(minutes: 0.5))
        #expect(plan == FirePlan(runs: [Self.ten], next: Self.at(minutes: 5)))
    }

    @Test("30 minutes late, each policy", arguments: [
        (MisfirePolicy.skip, [30.0]), (.runOnce, [30]), (.runAll, [0, 5, 10, 15, 20, 25, 30]),
    ])
    func late(policy: MisfirePolicy, minutes: [Double]) {
        // Seen at 10:30:20: the 10:30 run is within the threshold (even skip creates it), the
        // earlier ones were missed.
        let now = Self.at(minutes: 30 + 20.0 / 60)
        let plan = FirePlan(schedule: Self.everyFive, due: Self.ten, misfire: policy, now: now, horizon: now)
        #expect(plan.runs == minutes.map(Self.at(minutes:)))
        #expect(plan.next == Self.at(minutes: 35))
    }

    @Test("skip creates nothing when even the latest time is beyond the threshold")
    func skipAllMissed() {
        let now = Self.at(minutes: 32)
        let plan = FirePlan(schedule: Self.everyFive, due: Self.ten, misfire: .skip, now: now, horizon: now)
        #expect(plan == FirePlan(runs: [], next: Self.at(minutes: 35)))
    }

    @Test("run_all keeps at most maxMissedRuns, the latest")
    func runAllCap() {
        let now = Self.at(minutes: 5 * 200)
        let plan = FirePlan(schedule: Self.everyFive, due: Self.ten, misfire: .runAll, now: now, horizon: now)
        #expect(plan.runs.count == FirePlan.maxMissedRuns)
        #expect(plan.runs.last == now)
    }

    @Test("the look-ahead adds the runs up to the horizon, each at its own time, and moves next_run_at past them")
    func lookahead() {
        let now = Self.at(minutes: -1)
        let plan = FirePlan(schedule: Self.everyFive, due: Self.ten, misfire: .runOnce, now: now, horizon: Self.at(minutes: 10))
        #expect(plan == FirePlan(runs: [Self.ten, Self.at(minutes: 5), Self.at(minutes: 10)], next: Self.at(minutes: 15)))
    }

    @Test("a trigger not yet due within the horizon: no runs, next_run_at unchanged")
    func notYetDue() {
        let now = Self.at(minutes: -1)
        let plan = FirePlan(schedule: Self.everyFive, due: Self.ten, misfire: .runOnce, now: now, horizon: now)
        #expect(plan == FirePlan(runs: [], next: Self.ten))
    }

    // MARK: Schedule options

    static func options(jitter: Int = 0, until: Date? = nil) -> TriggerSchedule {
        TriggerSchedule(cron: everyFive, options: ScheduleOptions(jitterSeconds: jitter, activeUntil: until), triggerId: 11)
    }

    @Test("with a jitter: the due run at its moved time, next_run_at the next moved time, as next(after:) says")
    func jittered() {
        let schedule = Self.options(jitter: 120)
        let due = schedule.next(after: Self.at(minutes: -1))!.instant
        #expect(due >= Self.ten && due <= Self.at(minutes: 2))
        let next = schedule.next(after: due)!.instant
        #expect(next >= Self.at(minutes: 5) && next <= Self.at(minutes: 7))
        let plan = FirePlan(schedule: schedule, due: due, misfire: .runOnce, now: due.addingTimeInterval(0.2), horizon: due.addingTimeInterval(10.2))
        #expect(plan == FirePlan(runs: [due], next: next))
        // Thirty minutes late, run_all: each missed moved time, in order.
        let now = Self.at(minutes: 33)
        let late = FirePlan(schedule: schedule, due: due, misfire: .runAll, now: now, horizon: now)
        #expect(late.runs == schedule.fires(from: due, to: now.addingTimeInterval(0.001), limit: 100)!.map(\.instant))
        #expect(late.runs.count == 7 && late.next == schedule.next(after: now)?.instant)
    }

    @Test("an active window that ends: no run at or after active_until, and no next run")
    func windowEnds() {
        let schedule = Self.options(until: Self.at(minutes: 10))
        let plan = FirePlan(schedule: schedule, due: Self.at(minutes: 5), misfire: .runOnce, now: Self.at(minutes: 5), horizon: Self.at(minutes: 5))
        #expect(plan == FirePlan(runs: [Self.at(minutes: 5)], next: nil))
        // A stored next_run_at the window no longer holds creates nothing.
        let stale = FirePlan(schedule: schedule, due: Self.at(minutes: 10), misfire: .runOnce, now: Self.at(minutes: 10), horizon: Self.at(minutes: 10))
        #expect(stale == FirePlan(runs: [], next: nil))
    }
}
