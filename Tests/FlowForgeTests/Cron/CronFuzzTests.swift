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

/// A million inputs mutated from valid expressions, or raw. Run on its own, after the main
/// suite (`scripts/test.sh`), because it keeps a core busy for a minute or two in a debug build
/// and the engine's timing tests should not share the machine with it.
@Suite("Cron fuzz, a million inputs")
struct CronMillionFuzzTests {
    typealias SeededGenerator = CronFuzzTests.SeededGenerator

    /// Valid expressions to mutate: the kinds users write, with every extension.
    static let seeds = [
        "*/15 * * * *", "0 2 * * *", "30 2 * * *", "0 9 * * 1-5", "0 9 * * MON", "0 0 L * *", "0 0 LW * *", "0 12 15W * *",
        "0 0 * * 5#3", "0 0 * * FRIL", "0 0 29 2 *", "5,35 */2 1-15 JAN-JUN ?", "@hourly", "@weekly", "0-59/7 0-23/5 */3 */2 0-6",
        "0 0 1,L * SUN", "59 23 31 12 7",
    ]

    static let seedBytes = seeds.map { Array($0.utf8) }
    static let alphabet = Array("0123456789*/-,#?LW@ \tabcdefghijklmnopqrstuvwxyzMONFRIJANDEC%+.;:".utf8) + [0, 0x7f, 0xc3, 0xa9, 0xe2, 0x80, 0xae, 0xff]

    /// A valid expression with one to three byte edits (inserted, deleted, replaced or doubled),
    /// or raw bytes (control bytes, broken UTF-8), or a field far longer than any valid one.
    /// Made of bytes, so that a million of them cost seconds.
    static func mutatedInput(_ rng: inout SeededGenerator) -> String {
        var bytes: [UInt8]
        switch rng.next() % 20 {
        case 0:
            bytes = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1:
            let filler = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            bytes = Array(repeating: filler, count: Int(rng.next() % 1_100)) + Array(" * * * *".utf8)
        default:
            bytes = seedBytes[Int(rng.next() % UInt64(seedBytes.count))]
            for _ in 0...(rng.next() % 3) {
                let position = Int(rng.next() % UInt64(bytes.count + 1))
                let letter = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                switch rng.next() % 4 {
                case 0: bytes.insert(letter, at: position)
                case 1 where position < bytes.count: bytes.remove(at: position)
                case 2 where position < bytes.count: bytes[position] = letter
                case 3 where position < bytes.count: bytes.insert(bytes[position], at: position)
                default: bytes.append(letter)
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A million more inputs, mutated from valid expressions or raw: each parses, or fails
    /// with one sentence (no line break, not empty, not a wall of text); none takes long.
    @Test func aMillionMutatedInputs() throws {
        var rng = SeededGenerator(state: 0xF10F_F0A6)
        let zone = try CronTimeZone.named("Europe/Berlin")
        let start = Date(timeIntervalSince1970: 1_774_000_000)
        var parsed = 0
        var rejected = 0
        var slowest = Duration.zero
        let clock = ContinuousClock()
        for index in 0..<1_000_000 {
            let input = Self.mutatedInput(&rng)
            let began = clock.now
            do {
                let expression = try CronExpression(input)
                parsed += 1
                if index % 50 == 0 {
                    let fire = CronSchedule(expression: expression, timeZone: zone).next(after: start)
                    #expect(fire.map { $0.instant > start } ?? false, "\(input) never fired")
                }
            } catch {
                rejected += 1
                let message = error.message
                if message.isEmpty || message.contains("\n") || message.count > 400 {
                    Issue.record("not one sentence for \(input.debugDescription.prefix(80)): \(message.prefix(200))")
                }
            }
            slowest = max(slowest, clock.now - began)
        }
        #expect(parsed + rejected == 1_000_000)
        #expect(parsed > 50_000)
        #expect(rejected > 50_000)
        // A hang would show here; a parse takes microseconds.
        #expect(slowest < .seconds(2))
    }
}
