import Foundation

/// One scheduled run: when it happens, and how it reads on the trigger's wall clock.
public struct CronFire: Sendable, Equatable {
    /// The instant (UTC).
    public let instant: Date
    /// Wall-clock time with its offset, RFC 3339: "2024-03-10T03:00:00-04:00" ("+00:00" for UTC).
    public let local: String
    /// True when a spring-forward gap moved this run from a wall time that did not exist.
    public let dstAdjusted: Bool

    public init(instant: Date, local: String, dstAdjusted: Bool) {
        self.instant = instant
        self.local = local
        self.dstAdjusted = dstAdjusted
    }

    init(instant: Int64, offset: Int64, dstAdjusted: Bool) {
        self.init(
            instant: Date(timeIntervalSince1970: TimeInterval(instant)),
            local: Self.rfc3339(instant: instant, offset: offset),
            dstAdjusted: dstAdjusted
        )
    }

    /// Formats by hand: this runs once per fire, and `DateFormatter` costs more than the search.
    static func rfc3339(instant: Int64, offset: Int64) -> String {
        let wall = instant + offset
        let dayNumber = CronCivilDate.floorDiv(wall, CronCivilDate.secondsPerDay)
        let secondOfDay = Int(wall - dayNumber * CronCivilDate.secondsPerDay)
        let (year, month, day) = CronCivilDate.civil(dayNumber: dayNumber)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(25)
        func put(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        put(year, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        put(month, digits: 2)
        bytes.append(UInt8(ascii: "-"))
        put(day, digits: 2)
        bytes.append(UInt8(ascii: "T"))
        put(secondOfDay / 3600, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        put(secondOfDay / 60 % 60, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        put(secondOfDay % 60, digits: 2)
        bytes.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let offsetMinutes = Int(abs(offset) / 60)
        put(offsetMinutes / 60, digits: 2)
        bytes.append(UInt8(ascii: ":"))
        put(offsetMinutes % 60, digits: 2)
        return String(decoding: bytes, as: UTF8.self)
    }
}
