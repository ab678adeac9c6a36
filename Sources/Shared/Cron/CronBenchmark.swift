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
        lines.append("checksum \(sink)")
        return lines
    }

    private static func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }

    private static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? fill + text : text + fill
    }
}
