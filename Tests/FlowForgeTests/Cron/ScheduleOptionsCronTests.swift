import Crypto
import Foundation
import Testing
@testable import FlowForgeShared

/// A trigger's schedule options on the engine alone: the DST policy against the default rule,
/// the jitter's determinism, bounds, spread and order, and the active window.
@Suite("Schedule options (engine)")
struct ScheduleOptionsCronTests {
    static func schedule(
        _ expression: String, _ zone: String = "UTC", gap: DSTPolicy.Gap? = nil, overlap: DSTPolicy.Overlap? = nil, jitter: Int = 0,
        from: String? = nil, until: String? = nil, trigger: Int64? = 7
    ) throws -> TriggerSchedule {
        let options = ScheduleOptions(
            jitterSeconds: jitter, activeFrom: from.map(cronInstant), activeUntil: until.map(cronInstant),
            dstPolicy: DSTPolicy(gap: gap, overlap: overlap))
        return TriggerSchedule(expression: try CronExpression(expression), timeZone: try CronTimeZone.named(zone), options: options, triggerId: trigger)
    }

    static func year2024(_ schedule: TriggerSchedule) -> [CronFire] {
        schedule.fires(from: cronInstant("2024-01-01T00:00:00Z"), to: cronInstant("2025-01-01T00:00:00Z"), limit: 100_000)!
    }

    static func runs(_ schedule: TriggerSchedule, after: String, count: Int) -> [CronExpectedRun] {
        schedule.preview(after: cronInstant(after), count: count).map { CronExpectedRun(cronUTCText($0.instant), $0.local, adjusted: $0.dstAdjusted) }
    }

    // MARK: DST policy (America/New_York: 2024-03-10 02:00 EST → 03:00 EDT, 2024-11-03 02:00 EDT → 01:00 EST)

    @Test("30 2 * * * in New York over 2024: 366 by default and with gap shift (one at 03:00 EDT), 365 with gap skip")
    func gapPolicy() throws {
        let byDefault = Self.year2024(try Self.schedule("30 2 * * *", "America/New_York"))
        let shift = Self.year2024(try Self.schedule("30 2 * * *", "America/New_York", gap: .shift))
        let skip = Self.year2024(try Self.schedule("30 2 * * *", "America/New_York", gap: .skip))
        #expect(byDefault.count == 366 && shift.count == 366 && skip.count == 365)
        #expect(shift == byDefault)
        let moved = shift.filter(\.dstAdjusted)
        #expect(moved.map { cronUTCText($0.instant) } == ["2024-03-10T07:00:00Z"] && moved.first?.local == "2024-03-10T03:00:00-04:00")
        #expect(!skip.contains { cronUTCText($0.instant).hasPrefix("2024-03-10") })
        #expect(skip.contains { cronUTCText($0.instant) == "2024-03-11T06:30:00Z" })
    }

    @Test("30 1 * * * in New York over 2024: 366 by default and with overlap first, 367 with overlap both")
    func overlapPolicy() throws {
        #expect(Self.year2024(try Self.schedule("30 1 * * *", "America/New_York")).count == 366)
        #expect(Self.year2024(try Self.schedule("30 1 * * *", "America/New_York", overlap: .first)).count == 366)
        let both = try Self.schedule("30 1 * * *", "America/New_York", overlap: .both)
        #expect(Self.year2024(both).count == 367)
        #expect(Self.runs(both, after: "2024-11-03T00:00:00Z", count: 3) == [
            CronExpectedRun("2024-11-03T05:30:00Z", "2024-11-03T01:30:00-04:00"),
            CronExpectedRun("2024-11-03T06:30:00Z", "2024-11-03T01:30:00-05:00"),
            CronExpectedRun("2024-11-04T06:30:00Z", "2024-11-04T01:30:00-05:00"),
        ])
    }

    @Test("an expression that is not hour-restricted takes the policy too: overlap first, gap shift")
    func unrestrictedPolicy() throws {
        // By default */30 runs in both passes of the repeated hour; with first, once.
        #expect(Self.runs(try Self.schedule("*/30 * * * *", "America/New_York"), after: "2024-11-03T04:45:00Z", count: 5).map(\.utc) == [
            "2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:30:00Z", "2024-11-03T07:00:00Z",
        ])
        #expect(Self.runs(try Self.schedule("*/30 * * * *", "America/New_York", overlap: .first), after: "2024-11-03T04:45:00Z", count: 3) == [
            CronExpectedRun("2024-11-03T05:00:00Z", "2024-11-03T01:00:00-04:00"),
            CronExpectedRun("2024-11-03T05:30:00Z", "2024-11-03T01:30:00-04:00"),
            CronExpectedRun("2024-11-03T07:00:00Z", "2024-11-03T02:00:00-05:00"),
        ])
        // By default 02:15 on the spring-forward day is skipped; with shift it runs at 03:00.
        #expect(Self.runs(try Self.schedule("15 * * * *", "America/New_York"), after: "2024-03-10T06:00:00Z", count: 2).map(\.utc) == [
            "2024-03-10T06:15:00Z", "2024-03-10T07:15:00Z",
        ])
        #expect(Self.runs(try Self.schedule("15 * * * *", "America/New_York", gap: .shift), after: "2024-03-10T06:00:00Z", count: 3) == [
            CronExpectedRun("2024-03-10T06:15:00Z", "2024-03-10T01:15:00-05:00"),
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00", adjusted: true),
            CronExpectedRun("2024-03-10T07:15:00Z", "2024-03-10T03:15:00-04:00"),
        ])
    }

    @Test("a half of the policy left out keeps the default rule for it")
    func halfPolicy() throws {
        let gapOnly = try Self.schedule("30 1,2 * * *", "America/New_York", gap: .skip)
        let year = Self.year2024(gapOnly)
        // 2 a day, less the skipped 02:30 of 10 March; 01:30 of 3 November once (hour-restricted default).
        #expect(year.count == 2 * 366 - 1)
    }

    // MARK: Jitter

    @Test("the jitter of a trigger and a time is fixed: the same in two computations, pinned to SHA-256")
    func jitterIsDeterministic() throws {
        let a = try Self.schedule("0 * * * *", jitter: 900, trigger: 42)
        let b = try Self.schedule("0 * * * *", jitter: 900, trigger: 42)
        let after = cronInstant("2026-01-15T10:00:00Z")
        #expect(a.preview(after: after, count: 48) == b.preview(after: after, count: 48))
        // The documented formula, computed here apart: SHA-256 over the id and the epoch second
        // (big-endian 64-bit each), its first 8 bytes big-endian, modulo the bound + 1.
        for (trigger, slot, bound) in [(Int64(42), Int64(1_768_474_800), 900), (1, 0, 1_000_000), (9_000_000_000, -86_400, 3600)] {
            var input: [UInt8] = []
            for value in [trigger, slot] { input += (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> UInt64(56 - 8 * $0)) } }
            let first8 = Array(SHA256.hash(data: input)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            #expect(ScheduleJitter.seconds(triggerId: trigger, slot: slot, bound: bound) == Int(first8 % UInt64(bound + 1)))
        }
        // Pinned: a release that computed another amount would split replicas of different versions.
        #expect(ScheduleJitter.seconds(triggerId: 42, slot: 1_768_474_800, bound: 900) == Self.pinnedJitter)
        // Another trigger gets other times.
        let other = try Self.schedule("0 * * * *", jitter: 900, trigger: 43)
        #expect(other.preview(after: after, count: 48) != a.preview(after: after, count: 48))
    }

    /// Trigger 42's move of its 2026-01-15T11:00:00Z run with a bound of 900 s.
    static let pinnedJitter = 596

    @Test("moved times stay within [time, time + jitter_seconds], spread over the range, in order")
    func jitterBoundsAndSpread() throws {
        let schedule = try Self.schedule("0 * * * *", jitter: 600)
        let plain = try Self.schedule("0 * * * *")
        let from = cronInstant("2026-01-01T00:00:00Z"), to = cronInstant("2026-03-01T00:00:00Z")
        let slots = plain.fires(from: from, to: to, limit: 10_000)!.map(\.instant)
        let moved = schedule.fires(from: from, to: to, limit: 10_000)!.map(\.instant)
        #expect(moved.count == slots.count && slots.count == 59 * 24)
        let offsets = zip(slots, moved).map { Int($1.timeIntervalSince($0)) }
        #expect(offsets.allSatisfy { (0...600).contains($0) })
        #expect(Set(offsets).count > 500, "only \(Set(offsets).count) distinct offsets")
        #expect(offsets.min()! < 10 && offsets.max()! > 590)
        let mean = Double(offsets.reduce(0, +)) / Double(offsets.count)
        #expect(abs(mean - 300) < 30, "mean \(mean)")
        #expect(zip(moved, moved.dropFirst()).allSatisfy { $0 < $1 })
        // The local time is the moved instant's wall time.
        let first = schedule.preview(after: from, count: 1)[0]
        #expect(first.local == "2026-01-01T00:\(String(format: "%02d", offsets[0] / 60)):\(String(format: "%02d", offsets[0] % 60))+00:00")
    }

    @Test("a jitter longer than the gap between times is cut short of the next time: runs stay distinct and in order")
    func jitterNeverReachesTheNextTime() throws {
        let schedule = try Self.schedule("* * * * *", jitter: 3600)
        let moved = schedule.fires(from: cronInstant("2026-01-15T00:00:00Z"), to: cronInstant("2026-01-15T06:00:00Z"), limit: 10_000)!.map(\.instant)
        #expect(moved.count == 360)
        for (index, time) in moved.enumerated() {
            let slot = cronInstant("2026-01-15T00:00:00Z").addingTimeInterval(Double(index * 60))
            #expect(time >= slot && time.timeIntervalSince(slot) <= 59)
        }
    }

    @Test("next(after:) agrees with the walk from anywhere: before, at and between moved times")
    func nextAgreesWithWalk() throws {
        for (expression, jitter) in [("* * * * *", 3600), ("*/5 * * * *", 120), ("0 * * * *", 3600), ("0 9 * * 1-5", 600)] {
            let schedule = try Self.schedule(expression, "Europe/Berlin", jitter: jitter)
            let walk = schedule.fires(from: cronInstant("2024-03-30T00:00:00Z"), to: cronInstant("2024-04-02T00:00:00Z"), limit: 10_000)!
            for (index, fire) in walk.enumerated().dropLast() {
                #expect(schedule.next(after: fire.instant) == walk[index + 1], "\(expression) after \(fire.instant)")
                #expect(schedule.next(after: fire.instant.addingTimeInterval(-1)) == fire, "\(expression) before \(fire.instant)")
                let between = fire.instant.addingTimeInterval(walk[index + 1].instant.timeIntervalSince(fire.instant) / 2)
                #expect(schedule.next(after: between) == walk[index + 1], "\(expression) between")
            }
        }
    }

    @Test("without a trigger id the times are not moved: the earliest each run can have")
    func noTriggerNoJitter() throws {
        let unsaved = try Self.schedule("0 * * * *", jitter: 900, trigger: nil)
        let plain = try Self.schedule("0 * * * *")
        let after = cronInstant("2026-01-15T10:00:00Z")
        #expect(unsaved.preview(after: after, count: 10) == plain.preview(after: after, count: 10))
    }

    // MARK: Active window

    @Test("the window bounds the times: none before active_from, none at or after active_until, nothing once it has ended")
    func activeWindow() throws {
        let schedule = try Self.schedule("0 6 * * *", from: "2025-01-10T00:00:00Z", until: "2025-01-13T06:00:00Z")
        let january = schedule.fires(from: cronInstant("2025-01-01T00:00:00Z"), to: cronInstant("2025-02-01T00:00:00Z"), limit: 100)!
        #expect(january.map { cronUTCText($0.instant) } == ["2025-01-10T06:00:00Z", "2025-01-11T06:00:00Z", "2025-01-12T06:00:00Z"])
        #expect(schedule.next(after: cronInstant("2024-06-01T00:00:00Z"))?.instant == cronInstant("2025-01-10T06:00:00Z"))
        #expect(schedule.next(after: cronInstant("2025-01-12T06:00:00Z")) == nil)
        #expect(schedule.preview(after: cronInstant("2025-01-11T00:00:00Z"), count: 10).count == 2)
        // With a jitter the window applies to the moved times.
        let jittered = try Self.schedule("0 6 * * *", jitter: 3600, from: "2025-01-10T06:00:00Z", until: "2025-01-13T06:00:00Z")
        let times = jittered.fires(from: cronInstant("2025-01-01T00:00:00Z"), to: cronInstant("2025-02-01T00:00:00Z"), limit: 100)!
        #expect(times.count == 3 && times.allSatisfy { $0.instant >= cronInstant("2025-01-10T06:00:00Z") && $0.instant < cronInstant("2025-01-13T06:00:00Z") })
    }
}
