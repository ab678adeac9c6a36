import Foundation
import Testing
@testable import FlowForgeShared

/// One expected run: the UTC instant, the wall time with offset, and whether a gap moved it.
struct CronExpectedRun: CustomStringConvertible, Equatable {
    let utc: String
    let local: String
    let dstAdjusted: Bool

    init(_ utc: String, _ local: String, adjusted: Bool = false) {
        self.utc = utc
        self.local = local
        self.dstAdjusted = adjusted
    }

    var description: String { "\(utc) \(local)\(dstAdjusted ? " (dst adjusted)" : "")" }
}

/// Parses RFC 3339 with Foundation, independently of the code under test.
func cronInstant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) {
        return date
    }
    formatter.formatOptions = [.withInternetDateTime]
    guard let date = formatter.date(from: text) else {
        fatalError("bad test date \(text)")
    }
    return date
}

func cronUTCText(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
}

func cronSchedule(_ expression: String, _ zone: String = "UTC") throws -> CronSchedule {
    CronSchedule(expression: try CronExpression(expression), timeZone: try CronTimeZone.named(zone))
}

/// The runs as (utc, local, adjusted) so that a failure shows all three.
func cronRuns(_ expression: String, _ zone: String = "UTC", after: String, count: Int) throws -> [CronExpectedRun] {
    try cronSchedule(expression, zone).preview(after: cronInstant(after), count: count).map {
        CronExpectedRun(cronUTCText($0.instant), $0.local, adjusted: $0.dstAdjusted)
    }
}

/// Only the UTC instants, for tests where the zone is UTC and offsets say nothing new.
func cronUTCRuns(_ expression: String, after: String, count: Int) throws -> [String] {
    try cronSchedule(expression).preview(after: cronInstant(after), count: count).map { cronUTCText($0.instant) }
}

func cronRejection(_ expression: String) -> String? {
    do {
        _ = try CronExpression(expression)
        return nil
    } catch {
        return error.message
    }
}
