import Foundation
import Testing
@testable import FlowForgeShared

/// Around every DST transition of 2024–2026 in several zones, the schedule's answers equal a
/// slow reference that walks minute by minute, asks Foundation for offsets and calendar fields,
/// and applies DESIGN's four rules literally.
@Suite("Minute-scanning reference around DST changes")
struct CronReferenceTests {
    static let zones = ["America/New_York", "Europe/Berlin", "Europe/Dublin", "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham"]
    static let expressions = [
        "30 2 * * *", "0 0 * * *", "*/15 * * * *", "0 * * * *", "*/20 1-3 * * *", "45 1 * * *", "0,30 0-3 * * *",
        "15 23 * * *", "0 3 * * *", "*/10 2 * * 0",
    ]

    struct Run: Equatable, CustomStringConvertible {
        let instant: Int64
        let adjusted: Bool
        var description: String { "\(cronUTCText(Date(timeIntervalSince1970: TimeInterval(instant))))\(adjusted ? " adjusted" : "")" }
    }

    static func transitions(_ zone: TimeZone) -> [Int64] {
        var found: [Int64] = []
        var t: Int64 = 1_704_067_200  // 2024-01-01
        var previous = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))
        while t < 1_798_761_600 {  // 2027-01-01
            t += 900
            let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))
            if offset != previous {
                found.append(t)
                previous = offset
            }
        }
        return found
    }

    static func reference(_ expression: CronExpression, _ zone: TimeZone, after: Int64, until: Int64) -> [Run] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        func offset(_ t: Int64) -> Int64 { Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))) }
        func matches(_ wall: Int64) -> Bool {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: Date(timeIntervalSince1970: TimeInterval(wall)))
            return expression.minutes.contains(c.minute!) && expression.hours.contains(c.hour!)
                && expression.months.contains(c.month!)
                && expression.days.matchingDays(year: c.year!, month: c.month!) & (1 << UInt32(c.day!)) != 0
        }
        var runs: [Run] = []
        var t = (after / 60 + 1) * 60
        while t <= until {
            let now = offset(t)
            let before = offset(t - 60)
            // Spring forward at t: the walls [t + before, t + now) never happen.
            if expression.isHourRestricted, now > before, !matches(t + now),
               stride(from: t + before, to: t + now, by: 60).contains(where: matches) {
                runs.append(Run(instant: t, adjusted: true))
            }
            if matches(t + now) {
                // After a fall back, the same wall time already happened at t - (earlier - now).
                let earlier = offset(t - 3 * 3600)
                let repeated = earlier > now && offset(t - (earlier - now)) == earlier
                if !(expression.isHourRestricted && repeated) {
                    runs.append(Run(instant: t, adjusted: false))
                }
            }
            t += 60
        }
        return runs
    }

    @Test(arguments: zones)
    func scheduleMatchesReference(_ zoneName: String) throws {
        let zone = try CronTimeZone.named(zoneName)
        let transitions = Self.transitions(zone)
        #expect(transitions.count == 6, "2024–2026 should have six transitions in \(zoneName)")
        for text in Self.expressions {
            let expression = try CronExpression(text)
            let schedule = CronSchedule(expression: expression, timeZone: zone)
            for transition in transitions {
                let after = transition - 5 * 3600 - 7
                let until = transition + 26 * 3600
                let expected = Self.reference(expression, zone, after: after, until: until)
                var actual: [Run] = []
                var cursor = Date(timeIntervalSince1970: TimeInterval(after))
                while let fire = schedule.next(after: cursor), fire.instant.timeIntervalSince1970 <= Double(until) {
                    actual.append(Run(instant: Int64(fire.instant.timeIntervalSince1970), adjusted: fire.dstAdjusted))
                    cursor = fire.instant
                }
                #expect(actual == expected, "\(text) in \(zoneName) around \(cronUTCText(Date(timeIntervalSince1970: TimeInterval(transition))))")
            }
        }
    }
}
