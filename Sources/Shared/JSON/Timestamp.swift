import Foundation

/// RFC 3339 UTC timestamps, the only time format the API speaks.
public enum Timestamp {
    /// `2024-03-10T07:00:00Z`, or with milliseconds (`…00.123Z`) when the instant has them.
    public static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let seconds = CronCivilDate.floorDiv(milliseconds, 1000)
        let fraction = milliseconds - seconds * 1000
        let days = CronCivilDate.floorDiv(seconds, CronCivilDate.secondsPerDay)
        let secondOfDay = Int(seconds - days * CronCivilDate.secondsPerDay)
        let (year, month, day) = CronCivilDate.civil(dayNumber: days)
        // Digits by hand: String(format:) was a fifth of a busy worker's CPU.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            if rest >= divisor * 10 {  // wider than the field (years past 9999): all digits
                bytes.append(contentsOf: String(rest).utf8)
                return
            }
            while divisor > 0 {
                bytes.append(UInt8(48 + rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); bytes.append(45); digits(month, 2); bytes.append(45); digits(day, 2)
        bytes.append(84); digits(secondOfDay / 3600, 2); bytes.append(58); digits(secondOfDay / 60 % 60, 2)
        bytes.append(58); digits(secondOfDay % 60, 2)
        if fraction != 0 {
            bytes.append(46)
            digits(Int(fraction), 3)
        }
        bytes.append(90)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Accepts RFC 3339 (`2026-03-08T02:30:00Z`, `…:00.5-05:00`). Parsed by hand on the
    /// proleptic Gregorian calendar, as the cron engine computes: Foundation's formatter
    /// switches to the Julian calendar before 1582.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, [84, 116, 32].contains(bytes[10]), bytes[13] == 58,
            bytes[16] == 58, let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), (1...CronCivilDate.daysInMonth(year: year, month: month)).contains(day),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if bytes[index] == 46 {
            var scale = 0.1
            index += 1
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case 90, 122:  // Z, z
            guard index + 1 == bytes.count else { return nil }
        case 43, 45:  // +, -
            guard index + 6 == bytes.count, bytes[index + 3] == 58, let hours = number(index + 1, 2),
                let minutes = number(index + 4, 2), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == 45 ? -1 : 1)
        default:
            return nil
        }
        let days = CronCivilDate.dayNumber(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
}
