import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// Why an email could not be handed to the SMTP server: one sentence for the alert history and
/// the channel test, with the server's reply code and text when a reply was the reason.
public struct SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One sentence, e.g. `the SMTP server smtp.example.com:587 refused the username or password: 535 5.7.8 …`.
    public var message: String
    /// True when sending the same message again cannot help: a 5xx reply, or a setting that is
    /// wrong (no STARTTLS offered, an untrusted certificate). False for 4xx replies, timeouts and
    /// lost connections, which the notifier retries.
    public var permanent: Bool
    /// The reply code that ended the conversation, when a reply did.
    public var replyCode: Int?

    public init(_ message: String, permanent: Bool, replyCode: Int? = nil) {
        self.message = message
        self.permanent = permanent
        self.replyCode = replyCode
    }

    /// An unexpected reply: permanent for 5xx (RFC 5321 4.2.1), otherwise worth another try.
    init(_ what: String, reply: SMTPReply) {
        self.init("\(what): \(reply)", permanent: reply.code >= 500, replyCode: reply.code)
    }

    public var description: String { message }
}

extension SMTPError {
    /// A failure of the connection itself, said in words: refused, reset, TLS. A certificate
    /// that is not trusted or not for this host is permanent (it stays so until someone changes
    /// a setting); anything else may be the network's passing trouble.
    init(connectionFailure error: any Error, server: String) {
        if let error = error as? SMTPError {
            self = error
            return
        }
        let text = String(describing: error)
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first {
                self.init(connectionFailure: first.error, server: server)
            } else {
                let cause = error.dnsAError ?? error.dnsAAAAError
                self.init("could not find the address of the SMTP server \(server)\(cause.map { ": \($0)" } ?? "")", permanent: false)
            }
        case let error as IOError:
            self.init("the connection to the SMTP server \(server) failed: \(String(cString: strerror(error.errnoCode)))", permanent: false)
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            self.init(
                "the TLS certificate of the SMTP server \(server) is not issued for that name; use the name the certificate names as the host",
                permanent: true)
        case NIOSSLError.handshakeFailed where text.contains("CERTIFICATE_VERIFY_FAILED"):
            self.init(
                "the TLS certificate of the SMTP server \(server) is not trusted; "
                    + "if it is self-signed or from a private CA, give that certificate as ca_certificate",
                permanent: true)
        case let error as NIOSSLError:
            self.init("the TLS connection to the SMTP server \(server) failed: \(error)", permanent: false)
        default:
            self.init("the connection to the SMTP server \(server) failed: \(text)", permanent: false)
        }
    }
}
