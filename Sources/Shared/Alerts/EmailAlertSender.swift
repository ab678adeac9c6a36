import Foundation
import Logging

/// Sends an alert as a plain-text email through the channel's SMTP server (`SMTPClient`).
/// The subject is the headline; the body the facts, one per line, and the link to the run.
/// The delivery's idempotency key is the Message-ID, so a mail system or a person can tell a
/// repeat.
struct EmailAlertSender {
    let timeout: Duration
    let logger: Logger

    func send(_ message: AlertMessage, to target: AlertTarget.EmailTarget) async -> AlertDeliveryResult {
        let started = ContinuousClock.now
        let server = SMTPServer(
            host: target.host, port: target.port, security: target.security, username: target.username, password: target.password,
            trustedCertificatePEM: target.caCertificate, timeout: timeout)
        do {
            let reply = try await SMTPClient.send(Self.email(message, from: target.from, to: target.to), to: server, logger: logger)
            return AlertDeliveryResult(
                delivered: true, retryable: false, statusCode: Int(reply.prefix(3)), response: reply, duration: ContinuousClock.now - started)
        } catch let error as SMTPError {
            return AlertDeliveryResult(
                delivered: false, retryable: !error.permanent, statusCode: error.replyCode, error: error.message,
                duration: ContinuousClock.now - started)
        } catch {
            return AlertDeliveryResult(
                delivered: false, retryable: true, error: "cannot send the email: \(error)", duration: ContinuousClock.now - started)
        }
    }

    static func email(_ message: AlertMessage, from: String, to: [String]) -> EmailMessage {
        var lines = [message.headline, ""]
        for fact in message.facts() {
            lines.append(fact.value.contains("\n") ? "\(fact.label):\n\(fact.value)" : "\(fact.label): \(fact.value)")
        }
        lines += ["", "-- ", "Sent by FlowForge" + (message.rule.map { " for the alert rule \"\($0.name)\"" } ?? "") + "."]
        return EmailMessage(
            from: from, to: to, subject: "[FlowForge] \(message.headline)", body: lines.joined(separator: "\n"),
            messageID: "<\(message.idempotencyKey)@flowforge>",
            extraHeaders: [(name: "X-FlowForge-Idempotency-Key", value: message.idempotencyKey)], date: Date())
    }
}
