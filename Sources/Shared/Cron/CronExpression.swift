/// A parsed cron expression: five fields (`minute hour day-of-month month day-of-week`) or a
/// macro such as `@daily`. Parsing rejects anything that is malformed or can never fire.
public struct CronExpression: Sendable, Hashable {
    /// The text as given, without surrounding whitespace.
    public let source: String
    let minutes: CronBits
    let hours: CronBits
    let months: CronBits
    let days: CronDayRule

    public init(_ text: String) throws(CronError) {
        let trimmed = Self.trimmed(text)
        let fields = try CronParser.parse(trimmed: trimmed)
        self.source = trimmed
        self.minutes = fields.minutes
        self.hours = fields.hours
        self.months = fields.months
        self.days = fields.days
    }

    /// "Every 15 minutes", "At 09:00, Monday through Friday", …
    public var humanDescription: String {
        CronDescriber.describe(minutes: minutes, hours: hours, months: months, days: days)
    }

    /// False when the hour field covers all 24 hours. Decides what a DST change does: a
    /// restricted expression still fires once when its wall time is skipped or repeated; an
    /// unrestricted one follows the clock (skips the gap, fires in both passes of an overlap).
    public var isHourRestricted: Bool { hours.count != 24 }

    private static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }
}
