import Foundation
import Testing
@testable import FlowForgeShared

/// Random token soup: nothing crashes, every input parses or is rejected with a sentence, and
/// every parsed expression answers `next()` (the search is bounded).
@Suite("Fuzz")
struct CronFuzzTests {
    /// SplitMix64: deterministic across platforms, so a failure can be replayed from its seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let tokens = [
        "*", "?", "/", "-", ",", "#", "L", "W", "LW", "l", "w", "0", "1", "2", "3", "5", "7", "9", "12", "15", "23",
        "24", "29", "30", "31", "32", "59", "60", "99", "*/", "MON", "fri", "SUN", "JAN", "feb", "DEC", "@daily",
        "@yearly", "@reboot", "@every", "@", " ", " ", " ", " ", "\t", "x", ".", "+", "%", "é", "1234567", "",
    ]

    /// Pieces that are often valid in each field, so that many random expressions parse.
    static let fieldPieces = [
        ["*", "*/5", "*/7", "0", "15", "59", "0-30", "10-50/20", "5/15", "0,30", "?"],
        ["*", "*", "*/2", "0", "2", "9-17", "1,13", "22-23", "1/3", "?"],
        ["*", "*", "?", "1", "15", "29", "30", "31", "L", "LW", "15W", "1W", "1,L", "*/2", "1-7", "10/5"],
        ["*", "*", "*", "1", "2", "FEB", "jan-mar", "*/3", "4,6,9,11", "DEC"],
        ["*", "*", "?", "0", "7", "1-5", "MON-FRI", "sat-sun", "5#3", "1#5", "5L", "*/2", "FRI#1,SUNL", "0-6"],
    ]

    static func randomInput(_ rng: inout SeededGenerator) -> String {
        if Bool.random(using: &rng) {
            // Shaped like a cron expression: about five fields of plausible pieces, sometimes mangled.
            let count = [5, 5, 5, 5, 5, 5, 4, 6].randomElement(using: &rng)!
            return (0..<count).map { index in
                let pieces = fieldPieces[min(index, 4)]
                var field = pieces.randomElement(using: &rng)!
                if Int.random(in: 0..<8, using: &rng) == 0 {
                    field += [",", "-", "/", "#"].randomElement(using: &rng)! + pieces.randomElement(using: &rng)!
                }
                if Int.random(in: 0..<12, using: &rng) == 0 {
                    field += tokens.randomElement(using: &rng)!
                }
                return field
            }.joined(separator: " ")
        }
        var text = ""
        for _ in 0..<Int.random(in: 0...14, using: &rng) {
            text += tokens.randomElement(using: &rng)!
        }
        return text
    }

    @Test func randomInputsParseOrFailCleanly() throws {
        var rng = SeededGenerator(state: 20_240_310)
        let zones = try ["UTC", "America/New_York", "Australia/Lord_Howe", "America/Santiago"].map(CronTimeZone.named)
        let start = Date(timeIntervalSince1970: 1_710_000_000)
        var parsed = 0
        var rejected = 0
        for index in 0..<200_000 {
            let input = Self.randomInput(&rng)
            do {
                let expression = try CronExpression(input)
                parsed += 1
                #expect(!expression.humanDescription.isEmpty, "\(input)")
                if index % 4 == 0 {
                    let schedule = CronSchedule(expression: expression, timeZone: zones[index % zones.count])
                    let fire = schedule.next(after: start)
                    // Parsing refuses expressions that can never fire.
                    #expect(fire != nil, "\(input) never fired")
                    if let fire {
                        #expect(fire.instant > start)
                    }
                }
            } catch {
                rejected += 1
                if error.message.isEmpty {
                    Issue.record("empty message for \(input)")
                }
            }
        }
        #expect(parsed > 20_000)
        #expect(rejected > 20_000)
    }
}
