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
}
