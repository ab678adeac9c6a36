import Foundation
import Synchronization

/// A time zone's UTC offsets as a table of transitions, so that the schedule search never calls
/// into ICU (a `secondsFromGMT(for:)` call costs about as much as a whole `next()`).
///
/// The table runs from 1800 to 2601. Later instants are folded back by whole 400-year Gregorian
/// cycles: by then every zone follows its final recurring rule, which repeats exactly with that
/// period (146 097 days is a whole number of weeks).
final class CronZoneRules: Sendable {
    /// A stretch of time with one UTC offset.
    struct Segment {
        var start: Int64  // Int64.min for the first
        var end: Int64  // Int64.max for the last
        var offset: Int64
        var previousOffset: Int64  // offset just before `start`
        var nextOffset: Int64  // offset from `end` on
    }

    static let tableStart: Int64 = -5_364_662_400  // 1800-01-01T00:00:00Z
    static let tableEnd: Int64 = 19_880_899_200  // 2600-01-01T00:00:00Z
    static let cycle: Int64 = 146_097 * 86_400

    /// Instants where the offset changes, ascending.
    private let transitions: [Int64]
    /// `offsets[i]` holds before `transitions[i]`; the last one holds after the last transition.
    private let offsets: [Int64]

    init(zone: TimeZone) {
        var transitions: [Int64] = []
        var offsets: [Int64] = [Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(Self.tableStart))))]
        var cursor = Date(timeIntervalSince1970: TimeInterval(Self.tableStart))
        // One extra year so that a folded instant late in 2599 still sees the next transition.
        let stop = Date(timeIntervalSince1970: TimeInterval(Self.tableEnd + 366 * 86_400))
        while let transition = zone.nextDaylightSavingTimeTransition(after: cursor), transition < stop {
            cursor = transition
            let offset = Int64(zone.secondsFromGMT(for: transition))
            if offset != offsets[offsets.count - 1] {
                transitions.append(Int64(transition.timeIntervalSince1970.rounded()))
                offsets.append(offset)
            }
        }
        self.transitions = transitions
        self.offsets = offsets
    }

    func segment(containing instant: Int64) -> Segment {
        guard instant >= Self.tableEnd, !transitions.isEmpty else {
            return tableSegment(containing: instant)
        }
        let folds = (instant - (Self.tableEnd - Self.cycle)) / Self.cycle
        let shift = folds * Self.cycle
        var segment = tableSegment(containing: instant - shift)
        if segment.start < Self.tableEnd - Self.cycle {
            // A transition from before the repeating part does not repeat.
            segment.start = .min
            segment.previousOffset = segment.offset
        } else {
            segment.start += shift
        }
        if segment.end != .max { segment.end += shift }
        return segment
    }

    func offset(at instant: Int64) -> Int64 {
        segment(containing: instant).offset
    }

    private func tableSegment(containing instant: Int64) -> Segment {
        // Index of the first transition after `instant`.
        var low = 0
        var high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= instant {
                low = middle + 1
            } else {
                high = middle
            }
        }
        let offset = offsets[low]
        return Segment(
            start: low == 0 ? .min : transitions[low - 1],
            end: low == transitions.count ? .max : transitions[low],
            offset: offset,
            previousOffset: low == 0 ? offset : offsets[low - 1],
            nextOffset: low == transitions.count ? offset : offsets[low + 1]
        )
    }
}

/// Zone tables are immutable and cost about 2 ms to build, so each process builds a zone's
/// table once and shares it; the API previews a schedule per request. Process-wide, unlike the
/// worker's `StepsCache`: a table depends on nothing but the zone's name and the system's zone
/// data, so sharing it cannot change what any caller sees.
final class CronZoneRulesCache: Sendable {
    static let shared = CronZoneRulesCache()

    private let tables = Mutex<[String: CronZoneRules]>([:])

    func rules(for zone: TimeZone) -> CronZoneRules {
        let key = zone.identifier
        if let found = tables.withLock({ $0[key] }) {
            return found
        }
        let built = CronZoneRules(zone: zone)
        return tables.withLock { tables in
            if let raced = tables[key] {
                return raced
            }
            tables[key] = built
            return built
        }
    }
}
