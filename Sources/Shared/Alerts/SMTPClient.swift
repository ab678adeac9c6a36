import Foundation
import Logging
import NIOCore
import NIOSSL

/// Hands one email to an SMTP server (RFC 5321): greeting, EHLO, STARTTLS and EHLO again,
/// AUTH, MAIL FROM, RCPT TO for each recipient, DATA, the message, QUIT. Why FlowForge speaks
/// SMTP itself instead of calling sendmail: README, "Email alerts".
public enum SMTPClient {
    /// Sends `message` and returns the server's reply to it ("250 2.0.0 OK: queued as 4XyZ").
    /// Every failure is an `SMTPError` of one sentence, with the reply that caused it.
    public static func send(_ message: EmailMessage, to server: SMTPServer, logger: Logger) async throws -> String {
        if let problem = message.problem() { throw problem }
        guard !server.host.isEmpty, (1...65535).contains(server.port) else {
            throw SMTPError("the SMTP server \"\(server.host):\(server.port)\" is not a host and port", permanent: true)
        }
        let credentials: (username: String, password: String)?
        switch (server.username, server.password) {
        case (let username?, let password?): credentials = (username, password)
        case (nil, nil): credentials = nil
        default: throw SMTPError("an SMTP username and password go together: give both or neither", permanent: true)
        }

        let timeoutText = Self.describe(server.timeout)
        let deadline = NIODeadline.now() + TimeAmount(server.timeout)
        // Made here, not on an event loop: loading the system's trust roots reads files.
        let tls = try server.security == .none ? nil : makeTLSContext(server)
        let connection = try await SMTPConnection.connect(
            to: server, implicitTLS: server.security == .tls ? tls : nil, deadline: deadline, timeoutText: timeoutText)
        var logger = logger
        logger[metadataKey: "smtp_server"] = "\(connection.serverName)"
        do {
            // Futures do not notice cancellation; closing the connection ends every wait at once.
            let reply = try await withTaskCancellationHandler {
                try await converse(message, server: server, credentials: credentials, tls: tls, over: connection, logger: logger)
            } onCancel: {
                connection.cancel()
            }
            await connection.close()
            logger.debug("email handed to the SMTP server", metadata: ["smtp_reply": "\(reply)", "message_id": "\(message.bareMessageID)"])
            return reply.description
        } catch {
            await connection.close()
            let failure = SMTPError(connectionFailure: error, server: connection.serverName)
            logger.debug("email not sent", metadata: ["error": "\(failure)"])
            throw failure
        }
    }

    private static func converse(
        _ message: EmailMessage, server: SMTPServer, credentials: (username: String, password: String)?, tls: NIOSSLContext?,
        over connection: SMTPConnection, logger: Logger
    ) async throws -> SMTPReply {
        let name = connection.serverName
        let greeting = try await connection.reply(to: "the greeting")
        try expect(greeting, 220, "the SMTP server \(name) refused the connection")
        let hello = "EHLO \(connection.greetingName())"
        var ehlo = try await connection.command(hello, name: "EHLO")
        try expect(ehlo, 250, "the SMTP server \(name) refused EHLO")

        if server.security == .starttls, let tls {
            guard ehlo.extensions["STARTTLS"] != nil else {
                throw SMTPError(
                    "the SMTP server \(name) does not offer STARTTLS; set security to \"none\" to send without encryption, or \"tls\" if it expects TLS from the start",
                    permanent: true)
            }
            try expect(try await connection.command("STARTTLS"), 220, "the SMTP server \(name) refused STARTTLS")
            try await connection.startTLS(tls, serverHostname: SMTPConnection.verifiedHostname(server.host))
            // RFC 3207 4.2: what the server offered before TLS no longer counts; ask again.
            ehlo = try await connection.command(hello, name: "EHLO after STARTTLS")
            try expect(ehlo, 250, "the SMTP server \(name) refused EHLO after STARTTLS")
        }

        if let credentials {
            try await authenticate(credentials, offered: ehlo.extensions["AUTH"], over: connection)
        }

        try expect(
            try await connection.command("MAIL FROM:<\(message.from)>", name: "MAIL FROM"), 250,
            "the SMTP server \(name) refused the sender \(message.from)")
        for recipient in message.to {
            let reply = try await connection.command("RCPT TO:<\(recipient)>", name: "RCPT TO")
            guard reply.code == 250 || reply.code == 251 else {
                throw SMTPError("the SMTP server \(name) refused the recipient \(recipient)", reply: reply)
            }
        }
        try expect(try await connection.command("DATA"), 354, "the SMTP server \(name) refused DATA")
        connection.write(dotStuffed(message.rendered) + ".\r\n")
        let accepted = try await connection.reply(to: "the reply to the message")
        try expect(accepted, 250, "the SMTP server \(name) did not accept the message")
        logger.trace("SMTP message accepted", metadata: ["smtp_reply": "\(accepted)"])
        // The message is the server's now; a QUIT that goes wrong changes nothing about that.
        _ = try? await connection.command("QUIT")
        return accepted
    }

    /// AUTH PLAIN (RFC 4616), or LOGIN where a server offers only that. Over TLS unless the
    /// channel's security is "none", which the user chose.
    private static func authenticate(
        _ credentials: (username: String, password: String), offered: [String]?, over connection: SMTPConnection
    ) async throws {
        let name = connection.serverName
        guard let offered else {
            throw SMTPError(
                "the SMTP server \(name) does not offer AUTH, so the username and password cannot be used; remove them to send without logging in",
                permanent: true)
        }
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        let reply: SMTPReply
        if offered.contains("PLAIN") {
            reply = try await connection.command("AUTH PLAIN " + base64("\0\(credentials.username)\0\(credentials.password)"), name: "AUTH PLAIN")
        } else if offered.contains("LOGIN") {
            try expect(try await connection.command("AUTH LOGIN"), 334, "the SMTP server \(name) refused AUTH LOGIN")
            try expect(try await connection.command(base64(credentials.username), name: "the AUTH LOGIN username"), 334,
                       "the SMTP server \(name) refused the username")
            reply = try await connection.command(base64(credentials.password), name: "the AUTH LOGIN password")
        } else {
            throw SMTPError(
                "the SMTP server \(name) offers only the AUTH mechanisms \(offered.joined(separator: ", ")), and FlowForge speaks PLAIN and LOGIN",
                permanent: true)
        }
        try expect(reply, 235, "the SMTP server \(name) refused the username or password")
    }

    private static func expect(_ reply: SMTPReply, _ code: Int, _ what: String) throws {
        guard reply.code == code else { throw SMTPError(what, reply: reply) }
    }

    /// RFC 5321 4.5.2: a line that starts with "." gets another, so that no line of the
    /// message can end it early; the server removes it again.
    static func dotStuffed(_ rendered: String) -> String {
        var text = rendered.hasSuffix("\r\n") ? rendered : rendered + "\r\n"
        if text.hasPrefix(".") { text = "." + text }
        return text.replacingOccurrences(of: "\r\n.", with: "\r\n..")
    }

    private static func makeTLSContext(_ server: SMTPServer) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()   // verifies chain and host name
        configuration.minimumTLSVersion = .tlsv12
        if let pem = server.trustedCertificatePEM {
            let certificates = (try? NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))) ?? []
            guard !certificates.isEmpty else {
                throw SMTPError("the trusted certificate (ca_certificate) is not a PEM certificate", permanent: true)
            }
            configuration.additionalTrustRoots = [.certificates(certificates)]
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw SMTPError("could not set up TLS for the SMTP server \(server.host):\(server.port): \(error)", permanent: false)
        }
    }

    /// "30-second", "500-millisecond": the timeout as error messages say it.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return seconds == 1 ? "1-second" : "\(seconds)-second" }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)-millisecond"
    }
}
