/// Plain-English descriptions: "Every 15 minutes", "At 09:00, Monday through Friday",
/// "At 10:00 on the third Friday of the month".
enum CronDescriber {
    static func describe(minutes: CronBits, hours: CronBits, months: CronBits, days: CronDayRule) -> String {
        let (dayText, monthShown) = dayPhrase(days, months: months)
        var text = timePhrase(minutes: minutes.values, hours: hours.values)
        text += dayText
        if !monthShown {
            text += monthPhrase(months.values)
        }
        return text
    }

    // MARK: time of day

    private static func timePhrase(minutes: [Int], hours: [Int]) -> String {
        if hours.count == 24 {
            if minutes.count == 60 { return "Every minute" }
            if let step = evenStep(minutes, size: 60) { return "Every \(step) minutes" }
            if minutes == [0] { return "Every hour" }
            if minutes.count >= 4, let (first, last, step) = progression(minutes), step > 1 {
                return "Every \(step) minutes from minute \(first) through \(last) of every hour"
            }
            return "Every hour at \(numberList(minutes, one: "minute", many: "minutes"))"
        }
        if minutes.count * hours.count <= 6 {
            return "At " + joined(hours.flatMap { h in minutes.map { m in clock(h, m) } }, conjunction: "and")
        }
        if minutes.count == 1 {
            let minute = minutes[0]
            if let step = evenStep(hours, size: 24) {
                return minute == 0 ? "Every \(step) hours" : "Every \(step) hours at minute \(minute)"
            }
            if let (first, last, step) = progression(hours), hours.count >= 3 {
                let every = step == 1 ? "Every hour" : "Every \(step) hours"
                return "\(every) from \(clock(first, minute)) through \(clock(last, minute))"
            }
            return "At " + joined(hours.map { clock($0, minute) }, conjunction: "and")
        }
        let minutePart: String
        if minutes.count == 60 {
            minutePart = "Every minute"
        } else if let step = evenStep(minutes, size: 60) {
            minutePart = "Every \(step) minutes"
        } else {
            minutePart = "At \(numberList(minutes, one: "minute", many: "minutes"))"
        }
        let hourPart: String
        if let (first, last, step) = progression(hours), step == 1 || hours.count == 1 {
            hourPart = "between \(clock(first, 0)) and \(clock(last, 59))"
        } else if let step = evenStep(hours, size: 24) {
            hourPart = "during every \(ordinal(step)) hour"
        } else {
            hourPart = "during the \(joined(hours.map { clock($0, 0) }, conjunction: "and")) hours"
        }
        return "\(minutePart), \(hourPart)"
    }

    // MARK: days

    /// The day part, and whether it already named the month ("on February 29").
    private static func dayPhrase(_ days: CronDayRule, months: CronBits) -> (String, Bool) {
        let monthDayParts = dayOfMonthParts(days)
        let weekdayNames = weekdayList(days.weekdays)
        let specialWeekdays = specialWeekdayParts(days)
        let weekdaysRestrict = days.weekdays.count < 7 || !specialWeekdays.isEmpty
        let monthDaysRestrict = !monthDayParts.isEmpty

        if !monthDaysRestrict && !weekdaysRestrict {
            return ("", false)
        }
        if days.usesEitherRule && (!monthDaysRestrict || days.weekdays.count == 7) {
            return ("", false)  // one field allows every day, and either field is enough
        }
        if !weekdaysRestrict {
            if monthDayParts.count == 1, days.monthDays.count == 1, months.count == 1 {
                return (" on \(monthName(months.first!)) \(days.monthDays.first!)", true)
            }
            return (" on \(joined(monthDayParts, conjunction: "and")) of the month", false)
        }
        if !monthDaysRestrict {
            if specialWeekdays.isEmpty {
                let names = weekdayNames ?? ""
                return (names.contains("through") && !names.contains(",") && !names.contains(" and ")
                    ? ", \(names)" : ", only on \(names)", false)
            }
            var parts = weekdayNames.map { [$0] } ?? []
            parts.append(joined(specialWeekdays, conjunction: "and") + " of the month")
            return (" on " + parts.joined(separator: " and on "), false)
        }
        var weekdayParts = weekdayNames.map { [$0] } ?? []
        if !specialWeekdays.isEmpty {
            weekdayParts.append(joined(specialWeekdays, conjunction: "and") + " of the month")
        }
        let monthDayText = "\(joined(monthDayParts, conjunction: "and")) of the month"
        if days.usesEitherRule {
            return (" on \(monthDayText) or on \(weekdayParts.joined(separator: " or "))", false)
        }
        return (" on \(monthDayText), if it falls on \(weekdayParts.joined(separator: " or "))", false)
    }

    /// Empty when the day-of-month field allows every day.
    private static func dayOfMonthParts(_ days: CronDayRule) -> [String] {
        var parts: [String] = []
        let regular = days.monthDays.values
        if regular.count == 31 && !days.lastDayOfMonth && days.nearestWeekdayTo == 0 && !days.lastWeekdayOfMonth {
            return []
        }
        if !regular.isEmpty {
            if regular.count >= 4, let (first, last, step) = progression(regular), step > 1 {
                parts.append(last + step > 31
                    ? "every \(ordinal(step)) day starting on day \(first)"
                    : "every \(ordinal(step)) day from day \(first) through \(last)")
            } else {
                parts.append(numberList(regular, one: "day", many: "days"))
            }
        }
        if days.lastDayOfMonth { parts.append("the last day") }
        if days.nearestWeekdayTo > 0 { parts.append("the weekday nearest day \(days.nearestWeekdayTo)") }
        if days.lastWeekdayOfMonth { parts.append("the last weekday") }
        return parts
    }

    private static func specialWeekdayParts(_ days: CronDayRule) -> [String] {
        var parts: [String] = []
        for bit in days.nthWeekdays.values {
            parts.append("the \(ordinalWord(bit % 8)) \(weekdayName(bit / 8))")
        }
        for weekday in days.lastWeekdays.values {
            parts.append("the last \(weekdayName(weekday))")
        }
        return parts
    }

    /// "Monday through Friday", "Monday, Wednesday and Friday"; weeks start on Monday so that
    /// weekends read "Saturday and Sunday". Nil when there are no plain weekdays.
    private static func weekdayList(_ weekdays: CronBits) -> String? {
        let mondayFirst = weekdays.values.map { ($0 + 6) % 7 }.sorted()
        guard !mondayFirst.isEmpty else { return nil }
        let items = runs(mondayFirst).flatMap { run in
            run.count >= 3
                ? ["\(weekdayName((run.first! + 1) % 7)) through \(weekdayName((run.last! + 1) % 7))"]
                : run.map { weekdayName(($0 + 1) % 7) }
        }
        return joined(items, conjunction: "and")
    }

    private static func monthPhrase(_ months: [Int]) -> String {
        if months.count == 12 { return "" }
        let pieces = runs(months)
        if pieces.count == 1, months.count >= 3 {
            return ", \(monthName(months.first!)) through \(monthName(months.last!))"
        }
        let items = pieces.flatMap { run in
            run.count >= 3 ? ["\(monthName(run.first!)) through \(monthName(run.last!))"] : run.map(monthName)
        }
        return ", only in \(joined(items, conjunction: "and"))"
    }

    // MARK: words

    static func monthName(_ month: Int) -> String {
        ["January", "February", "March", "April", "May", "June", "July", "August", "September",
         "October", "November", "December"][month - 1]
    }

    static func weekdayName(_ weekday: Int) -> String {
        ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][weekday]
    }

    static func ordinalWord(_ n: Int) -> String {
        ["zeroth", "first", "second", "third", "fourth", "fifth"][n]
    }

    static func ordinal(_ n: Int) -> String {
        let suffix: String
        switch (n % 10, n % 100) {
        case (1, let t) where t != 11: suffix = "st"
        case (2, let t) where t != 12: suffix = "nd"
        case (3, let t) where t != 13: suffix = "rd"
        default: suffix = "th"
        }
        return "\(n)\(suffix)"
    }

    static func clock(_ hour: Int, _ minute: Int) -> String {
        (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }

    /// "a, b and c".
    static func joined(_ items: [String], conjunction: String) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " \(conjunction) " + items.last!
        }
    }

    /// "minute 5", "minutes 0 through 29", "minutes 5, 20 and 35".
    private static func numberList(_ values: [Int], one: String, many: String) -> String {
        if values.count == 1 { return "\(one) \(values[0])" }
        let items = runs(values).flatMap { run in
            run.count >= 3 ? ["\(run.first!) through \(run.last!)"] : run.map(String.init)
        }
        return "\(many) \(joined(items, conjunction: "and"))"
    }

    /// Consecutive stretches of sorted values.
    private static func runs(_ values: [Int]) -> [[Int]] {
        var result: [[Int]] = []
        for value in values {
            if let last = result.last?.last, last + 1 == value {
                result[result.count - 1].append(value)
            } else {
                result.append([value])
            }
        }
        return result
    }

    /// n when the values are exactly 0, n, 2n, … covering a field of `size` values evenly.
    private static func evenStep(_ values: [Int], size: Int) -> Int? {
        guard values.count >= 2, values[0] == 0 else { return nil }
        let step = values[1]
        guard size % step == 0, values.count == size / step else { return nil }
        return values.enumerated().allSatisfy { $0.element == $0.offset * step } ? step : nil
    }

    /// (first, last, step) when the sorted values are evenly spaced.
    private static func progression(_ values: [Int]) -> (Int, Int, Int)? {
        guard let first = values.first, let last = values.last else { return nil }
        if values.count == 1 { return (first, last, 1) }
        let step = values[1] - first
        return values.enumerated().allSatisfy { $0.element == first + $0.offset * step } ? (first, last, step) : nil
    }
}
