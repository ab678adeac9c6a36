import Foundation

/// The checks on an alert channel's settings that JSON types cannot say, with their sentences.
/// `name` is the field as the sentence names it ("to[2]").
public enum AlertChannelRules {
    public static let maxRecipients = 50
    public static let maxCertificateBytes = 65_536
    public static let pemHeader = "-----BEGIN CERTIFICATE-----"

    /// An absolute http:// or https:// URL with a host (`httpsOnly`: https only).
    public static func isWebURL(_ text: String, httpsOnly: Bool = false) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty, !text.contains(where: \.isWhitespace)
        else { return false }
        return scheme == "https" || (!httpsOnly && scheme == "http")
    }

    public static func checkEmailAddress(_ text: String, name: String) throws(FlowForgeError) {
        // The SMTP client's own check (`EmailAddress`): what is accepted here can be sent.
        guard EmailAddress.isValid(text) else {
            throw .invalid("\(name): \"\(text.prefix(80))\" is not an email address such as ops@example.com")
        }
    }

    /// A PEM certificate: at most 64 KiB, starting with its BEGIN line and holding its END line.
    public static func checkCertificate(_ text: String, name: String) throws(FlowForgeError) {
        guard text.utf8.count <= maxCertificateBytes else {
            throw .invalid("\(name) must be at most \(maxCertificateBytes) bytes (64 KiB)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix(pemHeader), trimmed.contains("-----END CERTIFICATE-----") else {
            throw .invalid("\(name) must be a PEM certificate, starting with \(pemHeader) and ending with -----END CERTIFICATE-----")
        }
    }

    /// A server's host name or address: no spaces, no control characters, no scheme or port.
    public static func checkHost(_ text: String, name: String) throws(FlowForgeError) {
        guard text.utf8.count <= 253,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f && !"/@?#".unicodeScalars.contains($0) })
        else {
            throw .invalid("\(name) must be a host name or IP address such as smtp.example.com (no scheme, no port)")
        }
    }
}
