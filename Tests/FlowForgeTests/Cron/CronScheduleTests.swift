import Foundation
import Testing
@testable import FlowForgeShared

/// Calendar behaviour in UTC: every syntax form, leap days, month ends, year wrap and the
/// day-of-month/day-of-week rule. Instants are worked out by hand.
@Suite("Schedule in UTC")
struct CronScheduleTests {
    @Test func nextIsStrictlyAfter() throws {
        #expect(try cronUTCRuns("0 0 * * *", after: "2024-01-01T00:00:00Z", count: 1) == ["2024-01-02T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 * * *", after: "2023-12-31T23:59:59.999Z", count: 1) == ["2024-01-01T00:00:00Z"])
        #expect(try cronUTCRuns("* * * * *", after: "2024-01-01T00:00:00.5Z", count: 1) == ["2024-01-01T00:01:00Z"])
    }

    @Test func macros() throws {
        let after = "2024-05-15T10:20:00Z"
        #expect(try cronUTCRuns("@yearly", after: after, count: 2) == ["2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"])
        #expect(try cronUTCRuns("@annually", after: after, count: 1) == ["2025-01-01T00:00:00Z"])
        #expect(try cronUTCRuns("@monthly", after: after, count: 2) == ["2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"])
        // 2024-05-15 is a Wednesday.
        #expect(try cronUTCRuns("@weekly", after: after, count: 2) == ["2024-05-19T00:00:00Z", "2024-05-26T00:00:00Z"])
        #expect(try cronUTCRuns("@daily", after: after, count: 2) == ["2024-05-16T00:00:00Z", "2024-05-17T00:00:00Z"])
        #expect(try cronUTCRuns("@midnight", after: after, count: 1) == ["2024-05-16T00:00:00Z"])
        #expect(try cronUTCRuns("@hourly", after: after, count: 2) == ["2024-05-15T11:00:00Z", "2024-05-15T12:00:00Z"])
        #expect(try cronUTCRuns("@Daily", after: after, count: 1) == ["2024-05-16T00:00:00Z"])
    }

    @Test func listsRangesAndSteps() throws {
        let after = "2024-01-01T00:00:00Z"
        #expect(try cronUTCRuns("*/25 * * * *", after: after, count: 3) == ["2024-01-01T00:25:00Z", "2024-01-01T00:50:00Z", "2024-01-01T01:00:00Z"])
        #expect(try cronUTCRuns("5/20 * * * *", after: after, count: 4) == ["2024-01-01T00:05:00Z", "2024-01-01T00:25:00Z", "2024-01-01T00:45:00Z", "2024-01-01T01:05:00Z"])
        #expect(try cronUTCRuns("10-50/20 * * * *", after: after, count: 4) == ["2024-01-01T00:10:00Z", "2024-01-01T00:30:00Z", "2024-01-01T00:50:00Z", "2024-01-01T01:10:00Z"])
        #expect(try cronUTCRuns("0 22-23,1 * * *", after: after, count: 3) == ["2024-01-01T01:00:00Z", "2024-01-01T22:00:00Z", "2024-01-01T23:00:00Z"])
        #expect(try cronUTCRuns("15,45 */12 * * *", after: after, count: 4) == ["2024-01-01T00:15:00Z", "2024-01-01T00:45:00Z", "2024-01-01T12:15:00Z", "2024-01-01T12:45:00Z"])
        #expect(try cronUTCRuns("0 0 1 */4 *", after: after, count: 3) == ["2024-05-01T00:00:00Z", "2024-09-01T00:00:00Z", "2025-01-01T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 1 ? *", after: after, count: 1) == ["2024-02-01T00:00:00Z"])
    }

    @Test func namesInAnyCase() throws {
        let after = "2024-01-01T00:00:00Z"  // a Monday
        #expect(try cronUTCRuns("0 12 * * mon-Fri", after: after, count: 6) == [
            "2024-01-01T12:00:00Z", "2024-01-02T12:00:00Z", "2024-01-03T12:00:00Z",
            "2024-01-04T12:00:00Z", "2024-01-05T12:00:00Z", "2024-01-08T12:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 1 jul,DEC *", after: after, count: 2) == ["2024-07-01T00:00:00Z", "2024-12-01T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 1 MAR-may *", after: after, count: 3) == ["2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 * * SAT-SUN", after: after, count: 3) == ["2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z", "2024-01-13T00:00:00Z"])
    }

    @Test func sundayIsZeroAndSeven() throws {
        let after = "2024-01-01T00:00:00Z"
        let sundays = ["2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"]
        #expect(try cronUTCRuns("0 0 * * 0", after: after, count: 2) == sundays)
        #expect(try cronUTCRuns("0 0 * * 7", after: after, count: 2) == sundays)
        #expect(try cronUTCRuns("0 0 * * SUN", after: after, count: 2) == sundays)
        #expect(try cronUTCRuns("0 0 * * 5-7", after: after, count: 3) == ["2024-01-05T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z"])
    }

    @Test func leapDays() throws {
        #expect(try cronUTCRuns("0 0 29 2 *", after: "2024-03-01T00:00:00Z", count: 10) == [
            "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z", "2040-02-29T00:00:00Z",
            "2044-02-29T00:00:00Z", "2048-02-29T00:00:00Z", "2052-02-29T00:00:00Z", "2056-02-29T00:00:00Z",
            "2060-02-29T00:00:00Z", "2064-02-29T00:00:00Z",
        ])
        // 2100 is not a leap year.
        #expect(try cronUTCRuns("0 0 29 2 *", after: "2096-03-01T00:00:00Z", count: 1) == ["2104-02-29T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 L 2 *", after: "2024-01-01T00:00:00Z", count: 2) == ["2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z"])
        // A fifth Monday in February needs a leap year starting Feb on a Monday.
        #expect(try cronUTCRuns("0 0 * 2 1#5", after: "2024-01-01T00:00:00Z", count: 3) == [
            "2044-02-29T00:00:00Z", "2072-02-29T00:00:00Z", "2112-02-29T00:00:00Z",
        ])
    }

    @Test func monthEnds() throws {
        #expect(try cronUTCRuns("0 0 31 * *", after: "2024-01-31T00:00:00Z", count: 6) == [
            "2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z",
            "2024-08-31T00:00:00Z", "2024-10-31T00:00:00Z", "2024-12-31T00:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 30 * *", after: "2024-01-30T00:00:00Z", count: 1) == ["2024-03-30T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 L * *", after: "2024-01-01T00:00:00Z", count: 4) == [
            "2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 1,L * *", after: "2024-04-01T00:00:00Z", count: 3) == [
            "2024-04-30T00:00:00Z", "2024-05-01T00:00:00Z", "2024-05-31T00:00:00Z",
        ])
    }

    @Test func yearWrap() throws {
        #expect(try cronUTCRuns("59 23 31 12 *", after: "2024-12-31T23:59:00Z", count: 1) == ["2025-12-31T23:59:00Z"])
        #expect(try cronUTCRuns("0 0 1 1 *", after: "2024-12-31T23:59:59.5Z", count: 1) == ["2025-01-01T00:00:00Z"])
        #expect(try cronUTCRuns("* * * * *", after: "2024-12-31T23:59:30Z", count: 2) == ["2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z"])
        #expect(try cronUTCRuns("0 0 * 1 1", after: "2024-12-01T00:00:00Z", count: 1) == ["2025-01-06T00:00:00Z"])
    }

    @Test func nearestWeekday() throws {
        // 2024-06-01 is a Saturday: 1W moves forward to Monday the 3rd, never into May.
        #expect(try cronUTCRuns("0 0 1W * *", after: "2024-05-15T00:00:00Z", count: 1) == ["2024-06-03T00:00:00Z"])
        // 2024-09-01 is a Sunday.
        #expect(try cronUTCRuns("0 0 1W * *", after: "2024-08-15T00:00:00Z", count: 1) == ["2024-09-02T00:00:00Z"])
        // 2024-06-15 is a Saturday (→ Friday 14th), 2024-09-15 a Sunday (→ Monday 16th).
        #expect(try cronUTCRuns("0 0 15W 6,9 *", after: "2024-01-01T00:00:00Z", count: 2) == ["2024-06-14T00:00:00Z", "2024-09-16T00:00:00Z"])
        // 31W: only months with a 31st; 2024-03-31 is a Sunday, 2024-08-31 a Saturday.
        #expect(try cronUTCRuns("0 0 31W * *", after: "2024-03-01T00:00:00Z", count: 5) == [
            "2024-03-29T00:00:00Z", "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z",
            "2024-08-30T00:00:00Z", "2024-10-31T00:00:00Z",
        ])
        // LW: the last Monday–Friday of the month.
        #expect(try cronUTCRuns("0 0 LW * *", after: "2024-03-01T00:00:00Z", count: 4) == [
            "2024-03-29T00:00:00Z", "2024-04-30T00:00:00Z", "2024-05-31T00:00:00Z", "2024-06-28T00:00:00Z",
        ])
    }

    @Test func nthAndLastWeekday() throws {
        #expect(try cronUTCRuns("0 10 * * 5#3", after: "2024-01-01T00:00:00Z", count: 3) == [
            "2024-01-19T10:00:00Z", "2024-02-16T10:00:00Z", "2024-03-15T10:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 * * 1#5", after: "2024-01-01T00:00:00Z", count: 5) == [
            "2024-01-29T00:00:00Z", "2024-04-29T00:00:00Z", "2024-07-29T00:00:00Z",
            "2024-09-30T00:00:00Z", "2024-12-30T00:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 * * 5L", after: "2024-01-01T00:00:00Z", count: 3) == [
            "2024-01-26T00:00:00Z", "2024-02-23T00:00:00Z", "2024-03-29T00:00:00Z",
        ])
        // Strictly after Friday March 1st; 2024-03-31 and 2024-04-28 are the last Sundays.
        #expect(try cronUTCRuns("0 0 * * FRI#1,sunL", after: "2024-03-01T00:00:00Z", count: 3) == [
            "2024-03-31T00:00:00Z", "2024-04-05T00:00:00Z", "2024-04-28T00:00:00Z",
        ])
    }

    @Test func dayOfMonthOrDayOfWeekWhenBothRestrict() throws {
        // 2024-09-01 is a Sunday. Friday the 13th or any Friday, or the 13th.
        #expect(try cronUTCRuns("0 0 13 * 5", after: "2024-09-01T00:00:00Z", count: 8) == [
            "2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z",
            "2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z", "2024-10-18T00:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 1-3 * 1", after: "2024-09-01T00:00:00Z", count: 5) == [
            "2024-09-02T00:00:00Z", "2024-09-03T00:00:00Z", "2024-09-09T00:00:00Z",
            "2024-09-16T00:00:00Z", "2024-09-23T00:00:00Z",
        ])
        #expect(try cronUTCRuns("0 0 1 * 5#3", after: "2024-09-01T00:00:00Z", count: 3) == [
            "2024-09-20T00:00:00Z", "2024-10-01T00:00:00Z", "2024-10-18T00:00:00Z",
        ])
    }

    @Test func bothMustMatchWhenEitherFieldStartsWithStar() throws {
        // "*/2" starts with "*": odd days that are Fridays (unlike croniter, which ORs them).
        #expect(try cronUTCRuns("0 0 */2 * 5", after: "2024-09-01T00:00:00Z", count: 7) == [
            "2024-09-13T00:00:00Z", "2024-09-27T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-25T00:00:00Z",
            "2024-11-01T00:00:00Z", "2024-11-15T00:00:00Z", "2024-11-29T00:00:00Z",
        ])
        // Only the other field restricts when one is "*" or "?".
        #expect(try cronUTCRuns("0 0 13 * *", after: "2024-09-01T00:00:00Z", count: 2) == ["2024-09-13T00:00:00Z", "2024-10-13T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 ? * 5", after: "2024-09-01T00:00:00Z", count: 2) == ["2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z"])
        #expect(try cronUTCRuns("0 0 13 * ?", after: "2024-09-01T00:00:00Z", count: 1) == ["2024-09-13T00:00:00Z"])
        // "*/3" in day-of-week is {Sun, Wed, Sat}; with day 13 both must match.
        // 2024-10-13 is a Sunday, 2024-11-13 a Wednesday, 2025-04-13 a Sunday.
        #expect(try cronUTCRuns("0 0 13 * */3", after: "2024-09-01T00:00:00Z", count: 3) == [
            "2024-10-13T00:00:00Z", "2024-11-13T00:00:00Z", "2025-04-13T00:00:00Z",
        ])
    }

    @Test func previewCountAndBounds() throws {
        let schedule = try cronSchedule("0 0 * * *")
        #expect(schedule.preview(after: cronInstant("2024-01-01T00:00:00Z"), count: 0).isEmpty)
        #expect(schedule.preview(after: cronInstant("2024-01-01T00:00:00Z"), count: 100).count == 100)
        #expect(schedule.next(after: cronInstant("9999-12-31T12:00:00Z")) == nil)
        #expect(schedule.next(after: Date(timeIntervalSince1970: 1e18)) == nil)
        #expect(try cronSchedule("0 0 * * *", "Asia/Tokyo").next(after: cronInstant("9999-12-31T00:00:00Z")) == nil)
        #expect(schedule.next(after: Date(timeIntervalSince1970: .nan)) == nil)
        #expect(schedule.next(after: Date(timeIntervalSince1970: -1e300))?.local == "0001-01-01T00:00:00+00:00")
    }

    @Test func rareExpressionsPreviewTenRuns() throws {
        #expect(try cronSchedule("0 0 29 2 1", "Europe/Berlin").preview(after: cronInstant("2024-01-01T00:00:00Z"), count: 10).count == 10)
        #expect(try cronSchedule("0 0 * 2 1#5", "America/New_York").preview(after: cronInstant("2024-01-01T00:00:00Z"), count: 10).count == 10)
    }
}
