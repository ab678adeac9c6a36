/// The practical check of an email address that the API applies to a channel's `from` and `to`,
/// and the SMTP client to every envelope address. Not RFC 5322's full grammar: quoted local parts,
/// comments and non-ASCII addresses (which would need SMTPUTF8) are refused, since an alert
/// channel has no use for them and each is a way to smuggle text into a command or header.
public enum EmailAddress {
    public static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 254 else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let local = parts.first, let domain = parts.last,
              !local.isEmpty, local.utf8.count <= 64, !domain.isEmpty
        else { return false }
        let forbidden = Set(" \t\r\n<>()[],;:\\\"".unicodeScalars)
        guard text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && !forbidden.contains($0) })
        else { return false }
        // A domain is dot-separated labels, none empty: "a@b..c", "a@.b" and "a@b." are typos.
        return !domain.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
