import Foundation

/// One plain-text email as an alert sends it. `rendered` is the RFC 5322 text handed to the
/// server after DATA (before dot-stuffing, which is the SMTP client's job).
public struct EmailMessage: Sendable {
    public var from: String
    public var to: [String]
    public var subject: String
    /// Plain text; any line ends (LF, CRLF) become CRLF.
    public var body: String
    /// `<uuid@flowforge>`, with or without the angle brackets.
    public var messageID: String
    /// Headers after the standard ones, e.g. `X-FlowForge-Idempotency-Key`.
    public var extraHeaders: [(name: String, value: String)]
    public var date: Date

    public init(
        from: String, to: [String], subject: String, body: String, messageID: String,
        extraHeaders: [(name: String, value: String)] = [], date: Date = Date()
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.messageID = messageID
        self.extraHeaders = extraHeaders
        self.date = date
    }

    /// The headers this type writes itself; an extra header may not repeat one of them.
    static let standardHeaders: Set<String> = [
        "date", "from", "to", "subject", "message-id", "mime-version", "content-type", "content-transfer-encoding",
    ]

    /// The message ID without its angle brackets.
    var bareMessageID: String {
        var id = messageID.trimmingCharacters(in: .whitespaces)
        if id.hasPrefix("<") && id.hasSuffix(">") && id.count >= 2 { id = String(id.dropFirst().dropLast()) }
        return id
    }

    /// Why this message cannot be sent as it is (a programming or settings error, so permanent),
    /// or nil. `rendered` defuses the same things on its own, but sending a silently changed
    /// address would be worse than saying so.
    func problem() -> SMTPError? {
        if !EmailAddress.isValid(from) { return SMTPError("the sender \"\(from)\" is not a valid email address", permanent: true) }
        if to.isEmpty { return SMTPError("an email needs at least one recipient", permanent: true) }
        if let bad = to.first(where: { !EmailAddress.isValid($0) }) {
            return SMTPError("the recipient \"\(bad)\" is not a valid email address", permanent: true)
        }
        if !EmailAddress.isValid(bareMessageID) {
            return SMTPError("the Message-ID \"\(messageID)\" is not of the form <id@domain>", permanent: true)
        }
        for header in extraHeaders {
            let nameIsToken = !header.name.isEmpty
                && header.name.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != ":" }
            if !nameIsToken { return SMTPError("\"\(header.name)\" is not a valid email header name", permanent: true) }
            if Self.standardHeaders.contains(header.name.lowercased()) {
                return SMTPError("the email header \(header.name) is written by the SMTP client and cannot be given again", permanent: true)
            }
        }
        return nil
    }

    /// Headers, an empty line and the quoted-printable body, every line ending in CRLF.
    public var rendered: String {
        var lines = [
            "Date: \(MIMEEncoding.date(date))",
            "From: \(MIMEEncoding.singleLine(from))",
            MIMEEncoding.addressListHeader("To", to),
            MIMEEncoding.textHeader("Subject", subject),
            "Message-ID: <\(MIMEEncoding.singleLine(bareMessageID))>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
        ]
        for header in extraHeaders {
            // A name with a space, colon or line break in it would change the header's meaning.
            let name = String(String.UnicodeScalarView(header.name.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F && $0 != ":" }))
            if name.isEmpty || Self.standardHeaders.contains(name.lowercased()) { continue }
            lines.append(MIMEEncoding.textHeader(name, header.value))
        }
        return lines.joined(separator: "\r\n") + "\r\n\r\n" + MIMEEncoding.quotedPrintable(body)
    }
}
