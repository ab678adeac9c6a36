import FlowForgeShared
import Foundation

/// `POST …/triggers/:triggerId/backfill` (`BackfillRequest`): the range `[from, to)` whose
/// schedule times get runs.
struct BackfillRequest: RequestBody {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case from, to
    }

    static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    var from: Date
    var to: Date

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        func time(_ key: CodingKeys) throws -> Date {
            guard let text = try fields.string(key, maxLength: 64) else { throw FlowForgeError.invalid("\(key.rawValue) is required") }
            guard let date = Timestamp.parse(text) else {
                throw FlowForgeError.invalid("\(key.rawValue) must be an RFC 3339 time such as 2024-01-01T00:00:00Z")
            }
            return date
        }
        from = try time(.from)
        to = try time(.to)
        guard from < to else { throw FlowForgeError.invalid("to must be later than from") }
    }
}

/// What a backfill found and did (`BackfillResult`): the schedule's times in the range, the runs
/// it created, those that already existed, and the first times.
struct BackfillBody: Encodable {
    /// At most this many times are listed.
    static let listedTimes = 100

    let count: Int
    let created: Int
    let dryRun: Bool
    let existing: Int
    let times: [Date]

    enum CodingKeys: String, CodingKey {
        case count, created, dryRun = "dry_run", existing, times
    }
}
