/// Which days of a month fire: the day-of-month and day-of-week fields together, with the
/// extensions (`L`, `nW`, `LW`, `d#n`, `dL`) and Vixie cron's rule for combining them.
struct CronDayRule: Sendable, Hashable {
    /// Plain days of the month, 1…31.
    var monthDays = CronBits()
    /// `L`: the last day of the month.
    var lastDayOfMonth = false
    /// `nW`: the weekday nearest day n (0 when absent).
    var nearestWeekdayTo = 0
    /// `LW`: the last weekday (Monday–Friday) of the month.
    var lastWeekdayOfMonth = false
    /// Plain weekdays, 0 = Sunday … 6 = Saturday.
    var weekdays = CronBits()
    /// `d#n`: bit `d * 8 + n`.
    var nthWeekdays = CronBits()
    /// `dL`: the last weekday d of the month.
    var lastWeekdays = CronBits()
    /// The day-of-month field starts with `*` or is `?`.
    var dayOfMonthIsWildcard = true
    /// The day-of-week field starts with `*` or is `?`.
    var dayOfWeekIsWildcard = true
    /// `weekdays` repeated: bit k is set when weekday k % 7 is in `weekdays`; shifted by the
    /// weekday of the 1st, it gives the month's matching days without a loop.
    private(set) var weekdayPattern: UInt64 = 0

    mutating func finish() {
        weekdayPattern = 0
        for k in 0..<45 where weekdays.contains(k % 7) {
            weekdayPattern |= UInt64(1) << UInt64(k)
        }
    }

    /// Both fields restrict, so a day matching either one fires.
    var usesEitherRule: Bool { !dayOfMonthIsWildcard && !dayOfWeekIsWildcard }

    /// Bits 1…31 of the days of that month that fire.
    func matchingDays(daysInMonth: Int, firstWeekday: Int) -> UInt32 {
        let inMonth: UInt64 = ((UInt64(1) << UInt64(daysInMonth + 1)) - 1) & ~1
        let byMonthDay = dayOfMonthMatches(daysInMonth: daysInMonth, firstWeekday: firstWeekday) & inMonth
        let byWeekday = dayOfWeekMatches(daysInMonth: daysInMonth, firstWeekday: firstWeekday) & inMonth
        let days = usesEitherRule ? (byMonthDay | byWeekday) : (byMonthDay & byWeekday)
        return UInt32(truncatingIfNeeded: days)
    }

    func matchingDays(year: Int, month: Int) -> UInt32 {
        let first = CronCivilDate.weekday(dayNumber: CronCivilDate.dayNumber(year: year, month: month, day: 1))
        return matchingDays(daysInMonth: CronCivilDate.daysInMonth(year: year, month: month), firstWeekday: first)
    }

    private func dayOfMonthMatches(daysInMonth: Int, firstWeekday: Int) -> UInt64 {
        var days = monthDays.raw
        if lastDayOfMonth {
            days |= UInt64(1) << UInt64(daysInMonth)
        }
        if nearestWeekdayTo > 0, nearestWeekdayTo <= daysInMonth {
            let day = Self.nearestWeekday(to: nearestWeekdayTo, daysInMonth: daysInMonth, firstWeekday: firstWeekday)
            days |= UInt64(1) << UInt64(day)
        }
        if lastWeekdayOfMonth {
            let day = Self.nearestWeekday(to: daysInMonth, daysInMonth: daysInMonth, firstWeekday: firstWeekday)
            days |= UInt64(1) << UInt64(day)
        }
        return days
    }

    private func dayOfWeekMatches(daysInMonth: Int, firstWeekday: Int) -> UInt64 {
        // Day d has weekday (firstWeekday + d - 1) % 7, i.e. pattern bit firstWeekday + d - 1.
        var days = (weekdayPattern >> UInt64(firstWeekday)) << 1
        if !nthWeekdays.isEmpty {
            var rest = nthWeekdays.raw
            while rest != 0 {
                let bit = rest.trailingZeroBitCount
                rest &= rest - 1
                let weekday = bit / 8, occurrence = bit % 8
                let day = 1 + (weekday - firstWeekday + 7) % 7 + 7 * (occurrence - 1)
                if day <= daysInMonth {
                    days |= UInt64(1) << UInt64(day)
                }
            }
        }
        if !lastWeekdays.isEmpty {
            let lastWeekdayOfMonth = (firstWeekday + daysInMonth - 1) % 7
            var rest = lastWeekdays.raw
            while rest != 0 {
                let weekday = rest.trailingZeroBitCount
                rest &= rest - 1
                days |= UInt64(1) << UInt64(daysInMonth - (lastWeekdayOfMonth - weekday + 7) % 7)
            }
        }
        return days
    }

    /// Monday–Friday nearest `day`, without leaving the month: a Saturday 1st moves to Monday
    /// the 3rd, a Sunday last day to Friday.
    static func nearestWeekday(to day: Int, daysInMonth: Int, firstWeekday: Int) -> Int {
        switch (firstWeekday + day - 1) % 7 {
        case 6: day == 1 ? day + 2 : day - 1
        case 0: day == daysInMonth ? day - 2 : day + 1
        default: day
        }
    }
}
