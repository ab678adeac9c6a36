import Foundation

/// `flowforge bench cron`: how long `next()` and a 100-run preview take, for a mix of
/// expressions and zones that includes daylight-saving changes and rare dates.
public enum CronBenchmark {
    struct Case {
        let expression: String
        let zone: String
        /// Chains of `next()` start here and restart after `window` seconds, so that every
        /// iteration measures the same stretch of calendar (including its DST change).
        let start: Int64
        let window: Int64
        let note: String
    }

    static let cases: [Case] = [
        Case(expression: "*/15 * * * *", zone: "Europe/Berlin", start: 1_711_670_400, window: 6 * 86_400, note: "across 2024-03-31 spring forward"),
        Case(expression: "*/15 * * * *", zone: "America/New_York", start: 1_730_505_600, window: 2 * 86_400, note: "across 2024-11-03 fall back"),
        Case(expression: "30 2 * * *", zone: "America/New_York", start: 1_709_251_200, window: 31 * 86_400, note: "March 2024, 02:30 skipped on the 10th"),
        Case(expression: "0 9 * * 1-5", zone: "Asia/Kolkata", start: 1_704_067_200, window: 366 * 86_400, note: ""),
        Case(expression: "0 0 L * *", zone: "UTC", start: 1_704_067_200, window: 4 * 366 * 86_400, note: ""),
        Case(expression: "0 10 * * 5#3", zone: "Europe/Berlin", start: 1_704_067_200, window: 4 * 366 * 86_400, note: ""),
        Case(expression: "0 2 * * *", zone: "Australia/Lord_Howe", start: 1_704_067_200, window: 366 * 86_400, note: "30-minute DST"),
        Case(expression: "* * * * *", zone: "UTC", start: 1_704_067_200, window: 86_400, note: ""),
        Case(expression: "0 0 29 2 *", zone: "UTC", start: 1_704_067_200, window: 40 * 366 * 86_400, note: "leap days only"),
    ]

    public static func run(iterations: Int) -> [String] {
        let iterations = max(iterations, 1)
        var lines: [String] = ["cron engine: \(iterations) next() calls per row, then 100-run previews"]
        var sink: Int64 = 0
        for benchCase in cases {
            guard let expression = try? CronExpression(benchCase.expression),
                  let zone = try? CronTimeZone.named(benchCase.zone)
            else {
                lines.append("skipped \(benchCase.expression) in \(benchCase.zone): does not parse")
                continue
            }
            let schedule = CronSchedule(expression: expression, timeZone: zone)
            let startDate = Date(timeIntervalSince1970: TimeInterval(benchCase.start))
            let windowEnd = Date(timeIntervalSince1970: TimeInterval(benchCase.start + benchCase.window))
            _ = schedule.next(after: startDate)  // builds the zone table outside the timing

            var cursor = startDate
            let clock = ContinuousClock()
            let started = clock.now
            for _ in 0..<iterations {
                if let fire = schedule.next(after: cursor), fire.instant < windowEnd {
                    cursor = fire.instant
                    sink &+= Int64(fire.instant.timeIntervalSince1970)
                } else {
                    cursor = startDate
                }
            }
            let nextNanos = nanoseconds(clock.now - started) / Double(iterations)

            let previews = max(iterations / 100, 1)
            let previewStarted = clock.now
            for _ in 0..<previews {
                sink &+= Int64(schedule.preview(after: startDate, count: 100).count)
            }
            let previewMicros = nanoseconds(clock.now - previewStarted) / Double(previews) / 1000

            let label = "\(benchCase.expression) in \(benchCase.zone)" + (benchCase.note.isEmpty ? "" : " (\(benchCase.note))")
            lines.append(
                "\(pad(label, 72)) next() \(pad(String(format: "%.0f", nextNanos), 6, left: true)) ns   preview(100) \(pad(String(format: "%.1f", previewMicros), 7, left: true)) µs"
            )
        }
        lines += scheduleOptionRows(iterations: iterations, sink: &sink)
        lines.append("checksum \(sink)")
        return lines
    }

    /// The same for schedules with options (`TriggerSchedule`): `next()` from a point between
    /// two runs, which searches back over the jitter for the run it may carry past that point,
    /// and a 100-run preview, which walks on one cron step per run. The ticker's `FirePlan` does
    /// one search per due trigger and walks from there.
    static func scheduleOptionRows(iterations: Int, sink: inout Int64) -> [String] {
        let cases: [(String, String, ScheduleOptions, String)] = [
            ("* * * * *", "UTC", ScheduleOptions(), "no options"),
            ("* * * * *", "UTC", ScheduleOptions(jitterSeconds: 3600), "jitter 3600 (cut to 59 s)"),
            ("0 * * * *", "Europe/Berlin", ScheduleOptions(jitterSeconds: 900), "jitter 900"),
            ("30 2 * * *", "America/New_York",
             ScheduleOptions(jitterSeconds: 600, activeUntil: Date(timeIntervalSince1970: 4_102_444_800), dstPolicy: DSTPolicy(gap: .skip, overlap: .both)),
             "jitter 600, window, dst_policy"),
        ]
        var lines: [String] = []
        let start = Date(timeIntervalSince1970: 1_704_067_200 + 1_234)  // 2024-01-01T00:20:34Z
        for (text, zoneName, options, note) in cases {
            guard let expression = try? CronExpression(text), let zone = try? CronTimeZone.named(zoneName) else { continue }
            let schedule = TriggerSchedule(expression: expression, timeZone: zone, options: options, triggerId: 42)
            let clock = ContinuousClock()
            let started = clock.now
            var cursor = start
            for index in 0..<iterations {
                // A fresh point each time, a few hours apart, so no search repeats the last one.
                if let fire = schedule.next(after: cursor) { sink &+= Int64(fire.instant.timeIntervalSince1970) }
                cursor = start.addingTimeInterval(Double(index % 10_000) * 11_111)
            }
            let nextNanos = nanoseconds(clock.now - started) / Double(iterations)
            let previews = max(iterations / 100, 1)
            let previewStarted = clock.now
            for _ in 0..<previews { sink &+= Int64(schedule.preview(after: start, count: 100).count) }
            let previewMicros = nanoseconds(clock.now - previewStarted) / Double(previews) / 1000
            let label = "\(text) in \(zoneName) (\(note))"
            lines.append(
                "\(pad(label, 72)) next() \(pad(String(format: "%.0f", nextNanos), 6, left: true)) ns   preview(100) \(pad(String(format: "%.1f", previewMicros), 7, left: true)) µs"
            )
        }
        return lines
    }

    private static func nanoseconds(_ duration: Duration) -> Double {
        duration.seconds * 1e9
    }

    private static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? fill + text : text + fill
    }
}
