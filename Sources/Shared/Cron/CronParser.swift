/// Turns the text of a cron expression into field sets, or a `CronError` naming the field.
enum CronParser {
    /// Longer input is refused before any work: no real schedule needs it.
    static let maximumLength = 1024

    static let supported = "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    ]

    struct Fields {
        var minutes: CronBits
        var hours: CronBits
        var months: CronBits
        var days: CronDayRule
        /// The five field texts, after macro expansion.
        var texts: [Substring]
    }

    static func parse(trimmed text: String) throws(CronError) -> Fields {
        if text.isEmpty {
            throw CronError("expression is empty; \(supported)")
        }
        if text.utf8.count > maximumLength {
            throw CronError("expression is too long (\(text.utf8.count) characters; at most \(maximumLength))")
        }
        let words = text.split(whereSeparator: \.isWhitespace)
        if text.hasPrefix("@") {
            return try parse(macro: words)
        }
        guard words.count == 5 else {
            throw CronError("\(supported); got \(words.count) field\(words.count == 1 ? "" : "s")")
        }
        return try parse(fields: words)
    }

    private static func parse(macro words: [Substring]) throws(CronError) -> Fields {
        let name = words[0].lowercased()
        if name == "@reboot" {
            throw CronError("@reboot is not supported: FlowForge starts workflows by the clock; \(supported)")
        }
        if name == "@every" {
            throw CronError("@every is not supported; use a step such as */15 in the minute field; \(supported)")
        }
        guard let expansion = macros[name] else {
            throw CronError("unknown macro \(quoted(words[0])); the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly")
        }
        guard words.count == 1 else {
            throw CronError("\(clipped(words[0])) takes nothing after it; \(supported)")
        }
        return try parse(fields: expansion.split(separator: " "))
    }

    private static func parse(fields words: [Substring]) throws(CronError) -> Fields {
        let minutes = try parseNumbers(words[0], .minute)
        let hours = try parseNumbers(words[1], .hour)
        let months = try parseNumbers(words[3], .month)
        var days = CronDayRule()
        try parseDayOfMonth(words[2], into: &days)
        try parseDayOfWeek(words[4], into: &days)
        days.finish()
        let fields = Fields(minutes: minutes, hours: hours, months: months, days: days, texts: words)
        try checkCanFire(fields)
        return fields
    }

    // MARK: plain fields

    private static func parseNumbers(_ text: Substring, _ field: CronField) throws(CronError) -> CronBits {
        if text == "?" {
            return CronBits(range: field.wildcard)
        }
        var bits = CronBits()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            bits.raw |= try parseItem(item, field, in: text).raw
        }
        return bits
    }

    /// One list item: `*`, `a`, `a-b`, each optionally with `/step`.
    private static func parseItem(_ item: Substring, _ field: CronField, in text: Substring) throws(CronError) -> CronBits {
        if item.isEmpty {
            throw CronError("\(field.name): empty item in the list \(quoted(text))")
        }
        let parts = item.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count > 2 {
            throw CronError("\(field.name): \(quoted(item)) has more than one /")
        }
        var step = 1
        if parts.count == 2 {
            step = try parseStep(parts[1], field, item: item)
        }
        let base = parts[0]
        let range: ClosedRange<Int>
        if base == "*" {
            range = field.wildcard
        } else if base.isEmpty {
            throw CronError("\(field.name): \(quoted(item)) needs a value or * before /")
        } else if base.contains("-") {
            let ends = base.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty else {
                throw CronError("\(field.name): \(quoted(item)) is not a valid range (write it as a-b)")
            }
            let low = try parseValue(ends[0], field)
            var high = try parseValue(ends[1], field)
            // SAT-SUN reads naturally; Sunday at the end of a range means 7.
            if field == .dayOfWeek, high == 0, low > 0, ends[1].uppercased() == "SUN" {
                high = 7
            }
            guard low <= high else {
                throw CronError("\(field.name): range \(clipped(ends[0]))-\(clipped(ends[1])) is reversed")
            }
            range = low...high
        } else {
            let value = try parseValue(base, field)
            // `a/n` runs from a to the end of the field.
            range = parts.count == 2 ? value...max(value, field.wildcard.upperBound) : value...value
        }
        var bits = CronBits()
        for value in stride(from: range.lowerBound, through: range.upperBound, by: step) {
            bits.insert(field == .dayOfWeek ? value % 7 : value)
        }
        return bits
    }

    private static func parseStep(_ text: Substring, _ field: CronField, item: Substring) throws(CronError) -> Int {
        guard !text.isEmpty else {
            throw CronError("\(field.name): \(quoted(item)) needs a step after /")
        }
        guard let step = number(text) else {
            throw CronError("\(field.name): step \(quoted(text)) is not a number")
        }
        if step == 0 {
            throw CronError("\(field.name): step 0 is not allowed")
        }
        if step > field.maxStep {
            throw CronError("\(field.name): step \(clipped(text)) is too large; the field has \(field.maxStep) values")
        }
        return step
    }

    private static func parseValue(_ text: Substring, _ field: CronField) throws(CronError) -> Int {
        if let value = number(text) {
            guard field.writable.contains(value) else {
                throw CronError("\(field.name): \(clipped(text)) is outside \(field.writable.lowerBound)-\(field.writable.upperBound)")
            }
            return value
        }
        if text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // All digits but too long to be a number: certainly out of range.
            throw CronError("\(field.name): \(clipped(text)) is outside \(field.writable.lowerBound)-\(field.writable.upperBound)")
        }
        if let value = field.value(ofName: Substring(text.uppercased())) {
            return value
        }
        throw CronError("\(field.name): \(quoted(text)) is not \(field.valueHint)")
    }

    /// ASCII digits only, at most 6 of them (anything longer is out of every range).
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 6 else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    // MARK: day fields

    private static func parseDayOfMonth(_ text: Substring, into days: inout CronDayRule) throws(CronError) {
        let field = CronField.dayOfMonth
        days.dayOfMonthIsWildcard = text == "?" || text.hasPrefix("*")
        let upper = text.uppercased()
        if upper == "LW" {
            days.lastWeekdayOfMonth = true
            return
        }
        if upper.contains("W") {
            if upper.contains(",") || upper.contains("-") || upper.contains("/") || upper.contains("*") {
                throw CronError("\(field.name): W cannot be used with a range, list or step (\(quoted(text))); write a single day such as 15W")
            }
            let day = upper.dropLast()
            guard upper.hasSuffix("W"), !day.isEmpty else {
                throw CronError("\(field.name): \(quoted(text)) is not valid; W follows a single day, as in 15W")
            }
            days.nearestWeekdayTo = try parseValue(day, field)
            return
        }
        if text == "?" {
            days.monthDays = CronBits(range: field.wildcard)
            return
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            if item.uppercased() == "L" {
                days.lastDayOfMonth = true
            } else {
                days.monthDays.raw |= try parseItem(item, field, in: text).raw
            }
        }
    }

    private static func parseDayOfWeek(_ text: Substring, into days: inout CronDayRule) throws(CronError) {
        let field = CronField.dayOfWeek
        days.dayOfWeekIsWildcard = text == "?" || text.hasPrefix("*")
        if text == "?" {
            days.weekdays = CronBits(range: field.wildcard)
            return
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let upper = item.uppercased()
            if let hash = item.firstIndex(of: "#") {
                let weekdayText = item[..<hash]
                let occurrenceText = item[item.index(after: hash)...]
                if weekdayText.isEmpty || weekdayText.contains(where: { "-/*,".contains($0) }) {
                    throw CronError("\(field.name): # follows a single weekday, as in 5#3 for the third Friday; got \(quoted(item))")
                }
                let weekday = try parseValue(weekdayText, field) % 7
                guard occurrenceText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), !occurrenceText.isEmpty else {
                    throw CronError("\(field.name): \(quoted(item)) needs 1-5 after #, as in 5#3 for the third Friday")
                }
                let occurrence = number(occurrenceText) ?? Int.max
                if occurrence == 0 {
                    throw CronError("\(field.name): #0 — the occurrence counts from 1 (first) to 5 (fifth)")
                }
                if occurrence > 5 {
                    throw CronError("\(field.name): #\(clipped(occurrenceText)) — a month has at most 5 of any weekday")
                }
                days.nthWeekdays.insert(weekday * 8 + occurrence)
            } else if upper.hasSuffix("L") {
                let weekdayText = item.dropLast()
                if weekdayText.isEmpty {
                    throw CronError("\(field.name): L needs a weekday before it, as in 5L for the last Friday of the month")
                }
                if weekdayText.contains(where: { "-/*".contains($0) }) {
                    throw CronError("\(field.name): L follows a single weekday, as in 5L for the last Friday; got \(quoted(item))")
                }
                days.lastWeekdays.insert(try parseValue(weekdayText, field) % 7)
            } else {
                days.weekdays.raw |= try parseItem(item, field, in: text).raw
            }
        }
    }

    // MARK: expressions that can never fire

    /// Which days fire depends only on the month's length and the weekday of its 1st; every
    /// combination occurs in the Gregorian cycle, so trying them all is an exact test.
    private static func checkCanFire(_ fields: Fields) throws(CronError) {
        if canFire(fields.days, in: fields.months) {
            return
        }
        var dayOfMonthOnly = fields.days
        dayOfMonthOnly.weekdays = CronBits(range: CronField.dayOfWeek.wildcard)
        dayOfMonthOnly.nthWeekdays = CronBits()
        dayOfMonthOnly.lastWeekdays = CronBits()
        dayOfMonthOnly.dayOfWeekIsWildcard = true
        dayOfMonthOnly.finish()
        let monthNames = fields.months.values.map { CronDescriber.monthName($0) }
        if !canFire(dayOfMonthOnly, in: fields.months) {
            var listed = fields.days.monthDays.values
            if fields.days.nearestWeekdayTo > 0 {
                listed.append(fields.days.nearestWeekdayTo)
            }
            let daysText = CronDescriber.joined(listed.sorted().map(String.init), conjunction: "or")
            let verb = monthNames.count == 1 ? "has" : "have"
            throw CronError("never fires: \(CronDescriber.joined(monthNames, conjunction: "and")) \(verb) no day \(daysText)")
        }
        let months = monthNames.count == 12 ? "" : " in \(CronDescriber.joined(monthNames, conjunction: "or"))"
        throw CronError(
            "never fires: no day\(months) matches both day-of-month \"\(fields.texts[2])\" and day-of-week \"\(fields.texts[4])\""
        )
    }

    private static func canFire(_ days: CronDayRule, in months: CronBits) -> Bool {
        for month in months.values {
            let lengths = month == 2 ? [28, 29] : [CronCivilDate.daysInMonth(year: 2001, month: month)]
            for length in lengths {
                for firstWeekday in 0..<7 where days.matchingDays(daysInMonth: length, firstWeekday: firstWeekday) != 0 {
                    return true
                }
            }
        }
        return false
    }
}

/// A piece of the user's input as an error sentence shows it: at most 40 characters, so a
/// sentence stays a sentence whatever was typed.
func clipped(_ text: some StringProtocol) -> String {
    text.count > 40 ? String(text.prefix(40)) + "…" : String(text)
}

/// `clipped`, in quotes.
func quoted(_ text: some StringProtocol) -> String {
    "\"" + clipped(text) + "\""
}
