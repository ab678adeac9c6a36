/// The five fields of a cron expression, with their ranges and the words used in messages.
enum CronField: Int, CaseIterable, Sendable {
    case minute, hour, dayOfMonth, month, dayOfWeek

    /// The name used in every error message, as the user knows it.
    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    /// Values a user may write (day-of-week accepts 7 for Sunday).
    var writable: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// Values `*` stands for.
    var wildcard: ClosedRange<Int> {
        self == .dayOfWeek ? 0...6 : writable
    }

    /// The largest sensible step: the number of distinct values.
    var maxStep: Int { wildcard.count }

    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let weekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// The value of a name (`JAN`, `mon`), or nil.
    func value(ofName upper: Substring) -> Int? {
        switch self {
        case .month: Self.monthNames.firstIndex(where: { $0 == upper }).map { $0 + 1 }
        case .dayOfWeek: Self.weekdayNames.firstIndex(where: { $0 == upper })
        default: nil
        }
    }

    /// What a valid single value looks like, for "is not …" messages.
    var valueHint: String {
        switch self {
        case .month: "a month (1-12 or JAN-DEC)"
        case .dayOfWeek: "a weekday (0-7 or SUN-SAT)"
        default: "a number"
        }
    }
}
