import Foundation
import Testing
@testable import FlowForgeShared

/// The four DST rules of DESIGN.md, each hour-restricted and not, with instants worked out by
/// hand from the zones' published transitions.
@Suite("DST rules")
struct CronDSTTests {
    // MARK: America/New_York — 2024-03-10 02:00 EST → 03:00 EDT, 2024-11-03 02:00 EDT → 01:00 EST

    @Test func newYorkSpringForwardRestrictedFiresOnceAfterTheGap() throws {
        #expect(try cronRuns("30 2 * * *", "America/New_York", after: "2024-03-09T12:00:00Z", count: 2) == [
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00", adjusted: true),
            CronExpectedRun("2024-03-11T06:30:00Z", "2024-03-11T02:30:00-04:00"),
        ])
    }

    @Test func newYorkSeveralGapTimesCollapseIntoOne() throws {
        #expect(try cronRuns("0,30 2 * * *", "America/New_York", after: "2024-03-10T05:00:00Z", count: 3) == [
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00", adjusted: true),
            CronExpectedRun("2024-03-11T06:00:00Z", "2024-03-11T02:00:00-04:00"),
            CronExpectedRun("2024-03-11T06:30:00Z", "2024-03-11T02:30:00-04:00"),
        ])
        #expect(try cronRuns("*/10 2 * * *", "America/New_York", after: "2024-03-10T05:00:00Z", count: 2) == [
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00", adjusted: true),
            CronExpectedRun("2024-03-11T06:00:00Z", "2024-03-11T02:00:00-04:00"),
        ])
    }

    @Test func newYorkGapRunLandingOnAScheduledTimeIsThatRun() throws {
        #expect(try cronRuns("0 2,3 * * *", "America/New_York", after: "2024-03-10T05:00:00Z", count: 3) == [
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00"),
            CronExpectedRun("2024-03-11T06:00:00Z", "2024-03-11T02:00:00-04:00"),
            CronExpectedRun("2024-03-11T07:00:00Z", "2024-03-11T03:00:00-04:00"),
        ])
    }

    @Test func newYorkSpringForwardUnrestrictedSkipsMissingTimes() throws {
        #expect(try cronRuns("*/30 * * * *", "America/New_York", after: "2024-03-10T06:00:00Z", count: 3) == [
            CronExpectedRun("2024-03-10T06:30:00Z", "2024-03-10T01:30:00-05:00"),
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00"),
            CronExpectedRun("2024-03-10T07:30:00Z", "2024-03-10T03:30:00-04:00"),
        ])
        #expect(try cronRuns("0 * * * *", "America/New_York", after: "2024-03-10T05:30:00Z", count: 2) == [
            CronExpectedRun("2024-03-10T06:00:00Z", "2024-03-10T01:00:00-05:00"),
            CronExpectedRun("2024-03-10T07:00:00Z", "2024-03-10T03:00:00-04:00"),
        ])
    }

    @Test func newYorkFallBackRestrictedFiresAtFirstOccurrenceOnly() throws {
        #expect(try cronRuns("30 1 * * *", "America/New_York", after: "2024-11-03T04:00:00Z", count: 2) == [
            CronExpectedRun("2024-11-03T05:30:00Z", "2024-11-03T01:30:00-04:00"),
            CronExpectedRun("2024-11-04T06:30:00Z", "2024-11-04T01:30:00-05:00"),
        ])
        #expect(try cronRuns("*/20 1 * * *", "America/New_York", after: "2024-11-03T04:00:00Z", count: 4) == [
            CronExpectedRun("2024-11-03T05:00:00Z", "2024-11-03T01:00:00-04:00"),
            CronExpectedRun("2024-11-03T05:20:00Z", "2024-11-03T01:20:00-04:00"),
            CronExpectedRun("2024-11-03T05:40:00Z", "2024-11-03T01:40:00-04:00"),
            CronExpectedRun("2024-11-04T06:00:00Z", "2024-11-04T01:00:00-05:00"),
        ])
    }

    @Test func newYorkFallBackRestrictedStartingInTheSecondPass() throws {
        // 06:10Z is 01:10 EST, the repeated hour: 01:30 already ran at 05:30Z.
        #expect(try cronRuns("30 1 * * *", "America/New_York", after: "2024-11-03T06:10:00Z", count: 1) == [
            CronExpectedRun("2024-11-04T06:30:00Z", "2024-11-04T01:30:00-05:00"),
        ])
    }

    @Test func newYorkFallBackUnrestrictedFiresInBothPasses() throws {
        #expect(try cronRuns("*/30 * * * *", "America/New_York", after: "2024-11-03T05:15:00Z", count: 4) == [
            CronExpectedRun("2024-11-03T05:30:00Z", "2024-11-03T01:30:00-04:00"),
            CronExpectedRun("2024-11-03T06:00:00Z", "2024-11-03T01:00:00-05:00"),
            CronExpectedRun("2024-11-03T06:30:00Z", "2024-11-03T01:30:00-05:00"),
            CronExpectedRun("2024-11-03T07:00:00Z", "2024-11-03T02:00:00-05:00"),
        ])
        #expect(try cronRuns("0 * * * *", "America/New_York", after: "2024-11-03T04:30:00Z", count: 3) == [
            CronExpectedRun("2024-11-03T05:00:00Z", "2024-11-03T01:00:00-04:00"),
            CronExpectedRun("2024-11-03T06:00:00Z", "2024-11-03T01:00:00-05:00"),
            CronExpectedRun("2024-11-03T07:00:00Z", "2024-11-03T02:00:00-05:00"),
        ])
    }

    @Test func newYork2025And2026Transitions() throws {
        #expect(try cronRuns("30 2 * * *", "America/New_York", after: "2025-03-08T12:00:00Z", count: 2) == [
            CronExpectedRun("2025-03-09T07:00:00Z", "2025-03-09T03:00:00-04:00", adjusted: true),
            CronExpectedRun("2025-03-10T06:30:00Z", "2025-03-10T02:30:00-04:00"),
        ])
        #expect(try cronRuns("30 2 * * *", "America/New_York", after: "2026-03-07T12:00:00Z", count: 2) == [
            CronExpectedRun("2026-03-08T07:00:00Z", "2026-03-08T03:00:00-04:00", adjusted: true),
            CronExpectedRun("2026-03-09T06:30:00Z", "2026-03-09T02:30:00-04:00"),
        ])
        #expect(try cronRuns("30 1 * * *", "America/New_York", after: "2025-11-01T12:00:00Z", count: 2) == [
            CronExpectedRun("2025-11-02T05:30:00Z", "2025-11-02T01:30:00-04:00"),
            CronExpectedRun("2025-11-03T06:30:00Z", "2025-11-03T01:30:00-05:00"),
        ])
        #expect(try cronRuns("30 1 * * *", "America/New_York", after: "2026-10-31T12:00:00Z", count: 2) == [
            CronExpectedRun("2026-11-01T05:30:00Z", "2026-11-01T01:30:00-04:00"),
            CronExpectedRun("2026-11-02T06:30:00Z", "2026-11-02T01:30:00-05:00"),
        ])
        #expect(try cronRuns("30 * * * *", "America/New_York", after: "2026-11-01T05:00:00Z", count: 3) == [
            CronExpectedRun("2026-11-01T05:30:00Z", "2026-11-01T01:30:00-04:00"),
            CronExpectedRun("2026-11-01T06:30:00Z", "2026-11-01T01:30:00-05:00"),
            CronExpectedRun("2026-11-01T07:30:00Z", "2026-11-01T02:30:00-05:00"),
        ])
    }

    // MARK: Europe/Berlin — 2024-03-31 02:00 CET → 03:00 CEST, 2024-10-27 03:00 CEST → 02:00 CET

    @Test func berlinSpringForward() throws {
        #expect(try cronRuns("30 2 * * *", "Europe/Berlin", after: "2024-03-30T12:00:00Z", count: 2) == [
            CronExpectedRun("2024-03-31T01:00:00Z", "2024-03-31T03:00:00+02:00", adjusted: true),
            CronExpectedRun("2024-04-01T00:30:00Z", "2024-04-01T02:30:00+02:00"),
        ])
        #expect(try cronRuns("*/15 * * * *", "Europe/Berlin", after: "2024-03-31T00:50:00Z", count: 2) == [
            CronExpectedRun("2024-03-31T01:00:00Z", "2024-03-31T03:00:00+02:00"),
            CronExpectedRun("2024-03-31T01:15:00Z", "2024-03-31T03:15:00+02:00"),
        ])
        #expect(try cronRuns("0 2 * * *", "Europe/Berlin", after: "2025-03-29T12:00:00Z", count: 1) == [
            CronExpectedRun("2025-03-30T01:00:00Z", "2025-03-30T03:00:00+02:00", adjusted: true),
        ])
        #expect(try cronRuns("0 2 * * *", "Europe/Berlin", after: "2026-03-28T12:00:00Z", count: 1) == [
            CronExpectedRun("2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00", adjusted: true),
        ])
    }

    @Test func berlinFallBack() throws {
        #expect(try cronRuns("30 2 * * *", "Europe/Berlin", after: "2024-10-26T23:00:00Z", count: 2) == [
            CronExpectedRun("2024-10-27T00:30:00Z", "2024-10-27T02:30:00+02:00"),
            CronExpectedRun("2024-10-28T01:30:00Z", "2024-10-28T02:30:00+01:00"),
        ])
        #expect(try cronRuns("*/30 * * * *", "Europe/Berlin", after: "2024-10-27T00:15:00Z", count: 4) == [
            CronExpectedRun("2024-10-27T00:30:00Z", "2024-10-27T02:30:00+02:00"),
            CronExpectedRun("2024-10-27T01:00:00Z", "2024-10-27T02:00:00+01:00"),
            CronExpectedRun("2024-10-27T01:30:00Z", "2024-10-27T02:30:00+01:00"),
            CronExpectedRun("2024-10-27T02:00:00Z", "2024-10-27T03:00:00+01:00"),
        ])
        #expect(try cronRuns("0 2 * * *", "Europe/Berlin", after: "2025-10-25T12:00:00Z", count: 2) == [
            CronExpectedRun("2025-10-26T00:00:00Z", "2025-10-26T02:00:00+02:00"),
            CronExpectedRun("2025-10-27T01:00:00Z", "2025-10-27T02:00:00+01:00"),
        ])
        #expect(try cronRuns("0 2 * * *", "Europe/Berlin", after: "2026-10-24T12:00:00Z", count: 2) == [
            CronExpectedRun("2026-10-25T00:00:00Z", "2026-10-25T02:00:00+02:00"),
            CronExpectedRun("2026-10-26T01:00:00Z", "2026-10-26T02:00:00+01:00"),
        ])
    }

    // MARK: Australia/Lord_Howe — a 30-minute shift: +10:30 ⇄ +11:00 at 02:00

    @Test func lordHoweSpringForward() throws {
        // 2024-10-06 02:00 +10:30 → 02:30 +11:00 (15:30Z).
        #expect(try cronRuns("0 2 * * *", "Australia/Lord_Howe", after: "2024-10-05T00:00:00Z", count: 2) == [
            CronExpectedRun("2024-10-05T15:30:00Z", "2024-10-06T02:30:00+11:00", adjusted: true),
            CronExpectedRun("2024-10-06T15:00:00Z", "2024-10-07T02:00:00+11:00"),
        ])
        #expect(try cronRuns("30 2 * * *", "Australia/Lord_Howe", after: "2024-10-05T00:00:00Z", count: 1) == [
            CronExpectedRun("2024-10-05T15:30:00Z", "2024-10-06T02:30:00+11:00"),
        ])
        #expect(try cronRuns("*/15 * * * *", "Australia/Lord_Howe", after: "2024-10-05T15:00:00Z", count: 3) == [
            CronExpectedRun("2024-10-05T15:15:00Z", "2024-10-06T01:45:00+10:30"),
            CronExpectedRun("2024-10-05T15:30:00Z", "2024-10-06T02:30:00+11:00"),
            CronExpectedRun("2024-10-05T15:45:00Z", "2024-10-06T02:45:00+11:00"),
        ])
    }

    @Test func lordHoweFallBack() throws {
        // 2024-04-07 02:00 +11:00 → 01:30 +10:30 (15:00Z): 01:30–01:59 happen twice.
        #expect(try cronRuns("45 1 * * *", "Australia/Lord_Howe", after: "2024-04-06T14:00:00Z", count: 2) == [
            CronExpectedRun("2024-04-06T14:45:00Z", "2024-04-07T01:45:00+11:00"),
            CronExpectedRun("2024-04-07T15:15:00Z", "2024-04-08T01:45:00+10:30"),
        ])
        #expect(try cronRuns("*/15 * * * *", "Australia/Lord_Howe", after: "2024-04-06T14:40:00Z", count: 4) == [
            CronExpectedRun("2024-04-06T14:45:00Z", "2024-04-07T01:45:00+11:00"),
            CronExpectedRun("2024-04-06T15:00:00Z", "2024-04-07T01:30:00+10:30"),
            CronExpectedRun("2024-04-06T15:15:00Z", "2024-04-07T01:45:00+10:30"),
            CronExpectedRun("2024-04-06T15:30:00Z", "2024-04-07T02:00:00+10:30"),
        ])
    }

    // MARK: Europe/Dublin — IST (+01:00) in summer, GMT in winter, whichever way tzdata models it

    @Test func dublinOffsets() throws {
        #expect(try cronRuns("0 12 * * *", "Europe/Dublin", after: "2024-12-01T00:00:00Z", count: 1) == [
            CronExpectedRun("2024-12-01T12:00:00Z", "2024-12-01T12:00:00+00:00"),
        ])
        #expect(try cronRuns("0 12 * * *", "Europe/Dublin", after: "2024-07-01T00:00:00Z", count: 1) == [
            CronExpectedRun("2024-07-01T11:00:00Z", "2024-07-01T12:00:00+01:00"),
        ])
    }

    @Test func dublinSpringForward() throws {
        // 2024-03-31 01:00 GMT → 02:00 IST (01:00Z).
        #expect(try cronRuns("30 1 * * *", "Europe/Dublin", after: "2024-03-30T12:00:00Z", count: 2) == [
            CronExpectedRun("2024-03-31T01:00:00Z", "2024-03-31T02:00:00+01:00", adjusted: true),
            CronExpectedRun("2024-04-01T00:30:00Z", "2024-04-01T01:30:00+01:00"),
        ])
        #expect(try cronRuns("*/30 * * * *", "Europe/Dublin", after: "2024-03-31T00:40:00Z", count: 2) == [
            CronExpectedRun("2024-03-31T01:00:00Z", "2024-03-31T02:00:00+01:00"),
            CronExpectedRun("2024-03-31T01:30:00Z", "2024-03-31T02:30:00+01:00"),
        ])
    }

    @Test func dublinFallBack() throws {
        // 2024-10-27 02:00 IST → 01:00 GMT (01:00Z).
        #expect(try cronRuns("30 1 * * *", "Europe/Dublin", after: "2024-10-26T23:00:00Z", count: 2) == [
            CronExpectedRun("2024-10-27T00:30:00Z", "2024-10-27T01:30:00+01:00"),
            CronExpectedRun("2024-10-28T01:30:00Z", "2024-10-28T01:30:00+00:00"),
        ])
        #expect(try cronRuns("0 * * * *", "Europe/Dublin", after: "2024-10-26T23:30:00Z", count: 3) == [
            CronExpectedRun("2024-10-27T00:00:00Z", "2024-10-27T01:00:00+01:00"),
            CronExpectedRun("2024-10-27T01:00:00Z", "2024-10-27T01:00:00+00:00"),
            CronExpectedRun("2024-10-27T02:00:00Z", "2024-10-27T02:00:00+00:00"),
        ])
    }

    // MARK: America/Santiago — transitions at midnight

    @Test func santiagoMidnightDoesNotExist() throws {
        // 2024-09-08 00:00 -04:00 → 01:00 -03:00 (04:00Z).
        #expect(try cronRuns("0 0 * * *", "America/Santiago", after: "2024-09-07T12:00:00Z", count: 2) == [
            CronExpectedRun("2024-09-08T04:00:00Z", "2024-09-08T01:00:00-03:00", adjusted: true),
            CronExpectedRun("2024-09-09T03:00:00Z", "2024-09-09T00:00:00-03:00"),
        ])
        #expect(try cronRuns("@daily", "America/Santiago", after: "2025-09-06T12:00:00Z", count: 1) == [
            CronExpectedRun("2025-09-07T04:00:00Z", "2025-09-07T01:00:00-03:00", adjusted: true),
        ])
        #expect(try cronRuns("*/30 * * * *", "America/Santiago", after: "2024-09-08T03:00:00Z", count: 3) == [
            CronExpectedRun("2024-09-08T03:30:00Z", "2024-09-07T23:30:00-04:00"),
            CronExpectedRun("2024-09-08T04:00:00Z", "2024-09-08T01:00:00-03:00"),
            CronExpectedRun("2024-09-08T04:30:00Z", "2024-09-08T01:30:00-03:00"),
        ])
    }

    @Test func santiagoRepeatedHourBeforeMidnight() throws {
        // 2024-04-07 00:00 -03:00 → 2024-04-06 23:00 -04:00 (03:00Z): 23:00–23:59 happen twice.
        #expect(try cronRuns("30 23 * * *", "America/Santiago", after: "2024-04-06T12:00:00Z", count: 2) == [
            CronExpectedRun("2024-04-07T02:30:00Z", "2024-04-06T23:30:00-03:00"),
            CronExpectedRun("2024-04-08T03:30:00Z", "2024-04-07T23:30:00-04:00"),
        ])
        #expect(try cronRuns("0 0 * * *", "America/Santiago", after: "2024-04-06T12:00:00Z", count: 1) == [
            CronExpectedRun("2024-04-07T04:00:00Z", "2024-04-07T00:00:00-04:00"),
        ])
        #expect(try cronRuns("*/30 * * * *", "America/Santiago", after: "2024-04-07T02:10:00Z", count: 4) == [
            CronExpectedRun("2024-04-07T02:30:00Z", "2024-04-06T23:30:00-03:00"),
            CronExpectedRun("2024-04-07T03:00:00Z", "2024-04-06T23:00:00-04:00"),
            CronExpectedRun("2024-04-07T03:30:00Z", "2024-04-06T23:30:00-04:00"),
            CronExpectedRun("2024-04-07T04:00:00Z", "2024-04-07T00:00:00-04:00"),
        ])
    }

    // MARK: Pacific/Chatham — +12:45 ⇄ +13:45 at 02:45 / 03:45

    @Test func chathamSpringForward() throws {
        // 2024-09-29 02:45 +12:45 → 03:45 +13:45 (2024-09-28 14:00Z).
        #expect(try cronRuns("0 3 * * *", "Pacific/Chatham", after: "2024-09-28T00:00:00Z", count: 2) == [
            CronExpectedRun("2024-09-28T14:00:00Z", "2024-09-29T03:45:00+13:45", adjusted: true),
            CronExpectedRun("2024-09-29T13:15:00Z", "2024-09-30T03:00:00+13:45"),
        ])
        #expect(try cronRuns("*/30 * * * *", "Pacific/Chatham", after: "2024-09-28T13:40:00Z", count: 2) == [
            CronExpectedRun("2024-09-28T13:45:00Z", "2024-09-29T02:30:00+12:45"),
            CronExpectedRun("2024-09-28T14:15:00Z", "2024-09-29T04:00:00+13:45"),
        ])
    }

    @Test func chathamFallBack() throws {
        // 2024-04-07 03:45 +13:45 → 02:45 +12:45 (2024-04-06 14:00Z).
        #expect(try cronRuns("0 3 * * *", "Pacific/Chatham", after: "2024-04-06T12:00:00Z", count: 2) == [
            CronExpectedRun("2024-04-06T13:15:00Z", "2024-04-07T03:00:00+13:45"),
            CronExpectedRun("2024-04-07T14:15:00Z", "2024-04-08T03:00:00+12:45"),
        ])
        #expect(try cronRuns("0 * * * *", "Pacific/Chatham", after: "2024-04-06T13:00:00Z", count: 3) == [
            CronExpectedRun("2024-04-06T13:15:00Z", "2024-04-07T03:00:00+13:45"),
            CronExpectedRun("2024-04-06T14:15:00Z", "2024-04-07T03:00:00+12:45"),
            CronExpectedRun("2024-04-06T15:15:00Z", "2024-04-07T04:00:00+12:45"),
        ])
    }

    // MARK: zones without DST

    @Test func kolkataAndKathmandu() throws {
        #expect(try cronRuns("0 9 * * 1-5", "Asia/Kolkata", after: "2024-01-05T00:00:00Z", count: 2) == [
            CronExpectedRun("2024-01-05T03:30:00Z", "2024-01-05T09:00:00+05:30"),
            CronExpectedRun("2024-01-08T03:30:00Z", "2024-01-08T09:00:00+05:30"),
        ])
        #expect(try cronRuns("0 0 * * *", "Asia/Kathmandu", after: "2024-06-01T00:00:00Z", count: 2) == [
            CronExpectedRun("2024-06-01T18:15:00Z", "2024-06-02T00:00:00+05:45"),
            CronExpectedRun("2024-06-02T18:15:00Z", "2024-06-03T00:00:00+05:45"),
        ])
        #expect(try cronRuns("*/15 * * * *", "Asia/Kathmandu", after: "2024-06-01T00:00:00Z", count: 2) == [
            CronExpectedRun("2024-06-01T00:15:00Z", "2024-06-01T06:00:00+05:45"),
            CronExpectedRun("2024-06-01T00:30:00Z", "2024-06-01T06:15:00+05:45"),
        ])
    }

    @Test func utcUsesPlusZeroOffset() throws {
        #expect(try cronRuns("0 0 1 1 *", "UTC", after: "2024-06-01T00:00:00Z", count: 1) == [
            CronExpectedRun("2025-01-01T00:00:00Z", "2025-01-01T00:00:00+00:00"),
        ])
    }

    @Test func zoneRulesFarInTheFutureFollowTheRecurringRule() throws {
        // Past the 2600 end of the offset table, instants are folded back by 400-year cycles.
        #expect(try cronRuns("30 2 * * *", "America/New_York", after: "2801-03-10T12:00:00Z", count: 1) == [
            CronExpectedRun("2801-03-11T07:00:00Z", "2801-03-11T03:00:00-04:00", adjusted: true),
        ])
        #expect(try cronRuns("0 12 1 7 *", "Europe/Berlin", after: "3000-01-01T00:00:00Z", count: 1) == [
            CronExpectedRun("3000-07-01T10:00:00Z", "3000-07-01T12:00:00+02:00"),
        ])
    }
}
