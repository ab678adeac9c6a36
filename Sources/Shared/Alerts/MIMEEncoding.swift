import Foundation

/// The few pieces of RFC 2045/2047/5322 an alert email needs, kept to what mail readers
/// everywhere decode: quoted-printable bodies, base64 encoded-words, folded headers.
enum MIMEEncoding {
    /// `Sun, 06 Dec 2026 06:24:37 +0000` (RFC 5322 3.3), always in UTC, English names whatever
    /// the host's locale.
    static func date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String { let n = n ?? 0; return n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekdays[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) "
            + "\(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }

    /// A header value with every line break and other control character turned into a space:
    /// whatever a workflow name or error text holds, it cannot end the header and start another.
    static func singleLine(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// `Name: value` for free text (Subject, extra headers): as it is when it is printable
    /// ASCII, otherwise UTF-8 encoded-words (RFC 2047), each at most 75 characters, folded onto
    /// continuation lines so that no line comes near SMTP's 998-character limit.
    static func textHeader(_ name: String, _ value: String) -> String {
        let value = singleLine(value)
        let plain = value.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        // "=?" would be decoded by readers as the start of an encoded-word: encode such text too.
        if plain && !value.contains("=?") && name.utf8.count + 2 + value.utf8.count <= 900 {
            return "\(name): \(value)"
        }
        // At most 45 bytes per word: 60 base64 characters plus `=?UTF-8?B?` and `?=` is 72.
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in value.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > 45 {
                words.append(encodedWord(chunk))
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append(encodedWord(chunk)) }
        return "\(name): " + words.joined(separator: "\r\n ")
    }

    private static func encodedWord(_ bytes: [UInt8]) -> String {
        "=?UTF-8?B?" + Data(bytes).base64EncodedString() + "?="
    }

    /// `To: a@example.com, b@example.com, …` folded after a comma before a line passes 78
    /// characters (50 recipients would otherwise make one line of 1,500).
    static func addressListHeader(_ name: String, _ addresses: [String]) -> String {
        var lines = ["\(name):"]
        for (index, address) in addresses.enumerated() {
            let item = " " + singleLine(address) + (index < addresses.count - 1 ? "," : "")
            if lines[lines.count - 1].utf8.count + item.utf8.count > 78 && lines[lines.count - 1].contains("@") {
                lines.append(item)
            } else {
                lines[lines.count - 1] += item
            }
        }
        return lines.joined(separator: "\r\n")
    }

    /// The body as quoted-printable (RFC 2045 6.7) with CRLF line ends: 7-bit text in lines of at
    /// most 76 characters, which every server relays unchanged whether or not it offers 8BITMIME,
    /// and which stays readable in the raw message. Lines end in CRLF, whatever `text` used.
    static func quotedPrintable(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { encodeLine(Array($0.utf8)) }.joined(separator: "\r\n") + "\r\n"
    }

    private static func encodeLine(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        var lineLength = 0
        for (index, byte) in bytes.enumerated() {
            let isLast = index == bytes.count - 1
            let literal = (byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "="))
                || ((byte == 0x20 || byte == 0x09) && !isLast)   // whitespace at a line's end would be lost
            let piece = literal ? [byte] : [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            // A soft line break ("=" at the end) keeps each line at 76 characters at most.
            if lineLength + piece.count > 75 {
                output += Array("=\r\n".utf8)
                lineLength = 0
            }
            output += piece
            lineLength += piece.count
        }
        return String(decoding: output, as: UTF8.self)
    }
}
