import Foundation

/// Time zones for triggers: IANA identifiers only.
public enum CronTimeZone {
    /// IANA names without an area that are still worth accepting.
    private static let bareNames: Set<String> = ["UTC", "GMT"]

    /// The zone named by an IANA identifier such as "Europe/Berlin" or "UTC".
    ///
    /// Foundation also accepts abbreviations ("EST", "PST", "IST") and offsets ("GMT+5"), which
    /// are ambiguous or ignore daylight saving time; those are refused so that a trigger always
    /// follows its region's rules. `TimeZone.knownTimeZoneIdentifiers` cannot be the test:
    /// on Linux it lists ICU's canonical names only ("Asia/Calcutta", not "Asia/Kolkata").
    public static func named(_ identifier: String) throws(CronError) -> TimeZone {
        guard isIANAShaped(identifier), let zone = TimeZone(identifier: identifier) else {
            throw CronError("timezone: \"\(identifier)\" is not a known IANA time zone")
        }
        return zone
    }

    private static func isIANAShaped(_ identifier: String) -> Bool {
        if bareNames.contains(identifier) {
            return true
        }
        let parts = identifier.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 3, identifier.utf8.count <= 64 else {
            // Names without an area ("Japan", "EST5EDT") are old aliases or abbreviations.
            return false
        }
        if parts[0] == "SystemV" {
            return false  // ICU keeps these, the IANA database dropped them
        }
        return parts.allSatisfy { part in
            guard let first = part.first, first.isLetter, first.isUppercase else { return false }
            return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-+".contains($0)) }
        }
    }
}
