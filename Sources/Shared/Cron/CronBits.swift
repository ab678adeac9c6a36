/// A set of small integers (0…63) stored as a bit mask: the values one cron field allows.
struct CronBits: Sendable, Hashable {
    var raw: UInt64

    init(_ raw: UInt64 = 0) {
        self.raw = raw
    }

    init(range: ClosedRange<Int>) {
        let width = range.upperBound - range.lowerBound + 1
        let ones: UInt64 = width >= 64 ? ~0 : (UInt64(1) << UInt64(width)) - 1
        self.raw = ones << UInt64(range.lowerBound)
    }

    var isEmpty: Bool { raw == 0 }
    var count: Int { raw.nonzeroBitCount }
    var first: Int? { raw == 0 ? nil : raw.trailingZeroBitCount }
    var last: Int? { raw == 0 ? nil : 63 - raw.leadingZeroBitCount }

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && raw & (UInt64(1) << UInt64(value)) != 0
    }

    mutating func insert(_ value: Int) {
        raw |= UInt64(1) << UInt64(value)
    }

    /// The smallest member that is at least `value`.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let shift = UInt64(max(value, 0))
        let rest = (raw >> shift) << shift
        return rest == 0 ? nil : rest.trailingZeroBitCount
    }

    var values: [Int] {
        var result: [Int] = []
        var rest = raw
        while rest != 0 {
            result.append(rest.trailingZeroBitCount)
            rest &= rest - 1
        }
        return result
    }
}
