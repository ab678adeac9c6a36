import Foundation
import Testing
@testable import FlowForgeShared

@Suite("Time zone names")
struct CronTimeZoneTests {
    @Test(arguments: [
        "UTC", "GMT", "Etc/UTC", "Etc/GMT+5", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Calcutta",
        "Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe", "America/Santiago", "Europe/Dublin",
        "America/Argentina/Buenos_Aires", "America/Port-au-Prince", "US/Eastern", "Europe/Kyiv",
    ])
    func acceptsIANANames(_ name: String) throws {
        #expect(throws: Never.self) { try CronTimeZone.named(name) }
    }

    @Test(arguments: [
        "", " UTC", "Europe/Nowhere", "europe/berlin", "+05:30", "-03:00", "GMT+5", "GMT+05:30", "EST", "PST",
        "IST", "CET", "EST5EDT", "SystemV/AST4", "Local", "Europe/", "/Berlin", "Europe//Berlin",
    ])
    func rejectsEverythingElse(_ name: String) {
        #expect(throws: CronError("timezone: \"\(name)\" is not a known IANA time zone")) {
            try CronTimeZone.named(name)
        }
    }

    @Test func zoneTableAgreesWithFoundation() throws {
        // About every 6 hours from 1900 to 2100, and across the table's 2600 end.
        for name in ["America/New_York", "Europe/Dublin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kathmandu", "Pacific/Apia"] {
            let zone = try CronTimeZone.named(name)
            let rules = CronZoneRules(zone: zone)
            var mismatches = 0
            let tableEnd: Int64 = 19_880_899_200
            let year: Int64 = 365 * 86_400
            let ranges: [(Int64, Int64)] = [(-2_208_988_800, 4_102_444_800), (tableEnd - 3 * year, tableEnd + 5 * year)]
            for (start, end) in ranges {
                var t = start
                while t < end {
                    let expected = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))))
                    if rules.offset(at: t) != expected {
                        mismatches += 1
                    }
                    t += 6 * 3600 + 17
                }
            }
            #expect(mismatches == 0, "\(name)")
        }
    }
}
