import Foundation
import Testing
@testable import FlowForgeShared

/// Next runs compared with croniter (Python), an independent implementation. The fixture and
/// the cases it leaves out on purpose are described in Fixtures/make_croniter_fixture.py.
@Suite("Differential against croniter")
struct CronDifferentialTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let expression: String
            let timezone: String
            let after: Double
            let next: [Int64]
            let local: [String]
        }

        let croniter: String
        let cases: [Case]
    }

    static func load() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .appendingPathComponent("Fixtures/croniter_cases.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test func fixtureHasSeveralHundredCases() throws {
        #expect(try Self.load().cases.count >= 300)
    }

    @Test func nextRunsMatchCroniter() throws {
        var mismatches: [String] = []
        for testCase in try Self.load().cases {
            let schedule = try cronSchedule(testCase.expression, testCase.timezone)
            let fires = schedule.preview(after: Date(timeIntervalSince1970: testCase.after), count: testCase.next.count)
            let instants = fires.map { Int64($0.instant.timeIntervalSince1970) }
            let locals = fires.map(\.local)
            if instants != testCase.next || locals != testCase.local || fires.contains(where: \.dstAdjusted) {
                mismatches.append(
                    "\(testCase.expression) in \(testCase.timezone) after \(testCase.after): got \(locals), croniter \(testCase.local)"
                )
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches:\n\(mismatches.prefix(20).joined(separator: "\n"))")
    }
}
