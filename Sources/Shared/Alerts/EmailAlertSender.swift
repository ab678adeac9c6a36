import Logging

/// Sends an alert as an email (placeholder until the SMTP client lands in this branch).
struct EmailAlertSender {
    let timeout: Duration
    let logger: Logger

    func send(_ message: AlertMessage, to target: AlertTarget.EmailTarget) async -> AlertDeliveryResult {
        .notSent("email delivery is not available in this build")
    }
}
