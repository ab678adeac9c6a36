/// One reply of an SMTP server: a three-digit code and its text lines (`250-…` lines and the
/// final `250 …` line of a multi-line reply, without the code and separator).
struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    var code: Int
    var lines: [String]

    /// Lines of the form `DDD-text` (more follow) or `DDD text` / `DDD` (the last line).
    /// Nil for a line that no reply can contain.
    static func parseLine(_ line: String) -> (code: Int, text: String, isLast: Bool)? {
        let bytes = Array(line.utf8)
        guard bytes.count >= 3, bytes[0...2].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let code = Int(String(decoding: bytes[0...2], as: UTF8.self)), (200...599).contains(code)
        else { return nil }
        if bytes.count == 3 { return (code, "", true) }
        switch bytes[3] {
        case UInt8(ascii: " "): return (code, String(decoding: bytes[4...], as: UTF8.self), true)
        case UInt8(ascii: "-"): return (code, String(decoding: bytes[4...], as: UTF8.self), false)
        default: return nil
        }
    }

    var isPositive: Bool { (200...399).contains(code) }

    /// The reply as one line, the way the history shows it: `250 2.0.0 OK: queued as 4XyZ`.
    var description: String {
        let text = lines.filter { !$0.isEmpty }.joined(separator: " ")
        return text.isEmpty ? String(code) : "\(code) \(text)"
    }

    /// The EHLO keywords (first word of each line after the greeting line), upper-cased, with
    /// their parameters: `["STARTTLS": [], "AUTH": ["PLAIN", "LOGIN"], "8BITMIME": []]`.
    var extensions: [String: [String]] {
        var result: [String: [String]] = [:]
        for line in lines.dropFirst() {
            // Some servers still write the pre-RFC `AUTH=PLAIN LOGIN` form.
            let words = line.split(whereSeparator: { $0 == " " || $0 == "=" }).map { $0.uppercased() }
            guard let keyword = words.first else { continue }
            result[keyword, default: []] += words.dropFirst()
        }
        return result
    }
}
