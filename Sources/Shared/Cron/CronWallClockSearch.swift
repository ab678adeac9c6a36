extension CronExpression {
    /// The first matching wall-clock time at or after `from`, if it is before `limit`.
    ///
    /// Wall-clock times are seconds of a local civil timeline (days since 1970-01-01 × 86 400 +
    /// seconds of the day), with no time zone: the schedule maps them to instants. The search
    /// jumps field by field — month, day, hour, minute — so its cost does not depend on how far
    /// away the match is, only on how many months it has to look at.
    func firstWallMatch(atOrAfter from: Int64, before limit: Int64) -> Int64? {
        let firstMinute = CronCivilDate.floorDiv(from + 59, 60)
        let firstDay = CronCivilDate.floorDiv(firstMinute, 1440)
        let minuteOfDay = Int(firstMinute - firstDay * 1440)
        var (year, month, day) = CronCivilDate.civil(dayNumber: firstDay)
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60
        let limitDay = CronCivilDate.floorDiv(limit, CronCivilDate.secondsPerDay)
        var maskMonth = 0
        var maskYear = Int.min
        var dayMask = CronBits()

        while true {
            if !months.contains(month) {
                if let next = months.next(atOrAfter: month + 1) {
                    month = next
                } else {
                    year += 1
                    month = months.first!
                }
                day = 1; hour = 0; minute = 0
                if CronCivilDate.dayNumber(year: year, month: month, day: 1) > limitDay { return nil }
            }
            if maskMonth != month || maskYear != year {
                dayMask = CronBits(UInt64(days.matchingDays(year: year, month: month)))
                maskMonth = month
                maskYear = year
            }
            guard let matchingDay = dayMask.next(atOrAfter: day) else {
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
                day = 1; hour = 0; minute = 0
                if CronCivilDate.dayNumber(year: year, month: month, day: 1) > limitDay { return nil }
                continue
            }
            if matchingDay != day {
                day = matchingDay; hour = 0; minute = 0
            }
            guard let matchingHour = hours.next(atOrAfter: hour) else {
                day += 1; hour = 0; minute = 0
                continue
            }
            if matchingHour != hour {
                hour = matchingHour; minute = 0
            }
            guard let matchingMinute = minutes.next(atOrAfter: minute) else {
                hour += 1; minute = 0
                continue
            }
            let dayNumber = CronCivilDate.dayNumber(year: year, month: month, day: day)
            let wall = (dayNumber * 1440 + Int64(hour * 60 + matchingMinute)) * 60
            return wall < limit ? wall : nil
        }
    }

    /// Whether the wall-clock time `wall` itself is a scheduled time.
    func matches(wall: Int64) -> Bool {
        firstWallMatch(atOrAfter: wall, before: wall + 1) == wall
    }
}
