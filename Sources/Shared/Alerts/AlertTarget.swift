/// A channel with its secret opened: everything a sender needs. Built in the process that
/// sends (the scheduler's notifier, or the API for a test message) from the stored channel
/// and its sealed secret, and never stored, logged or shown.
public enum AlertTarget: Sendable {
    case webhook(url: String, secret: [UInt8])
    case slack(url: String)
    case email(EmailTarget)

    /// An email channel's server, account and addresses.
    public struct EmailTarget: Sendable {
        public var host: String
        public var port: Int
        public var security: EmailSecurity
        public var username: String?
        public var password: String?
        public var from: String
        public var to: [String]
        public var caCertificate: String?
    }

    /// The target of `channel`, whose sealed secret `open` opened (nil when it has none).
    /// Throws a sentence when the stored channel lacks what its kind needs.
    public init(channel: AlertChannel, secret: [UInt8]?) throws(AlertTargetError) {
        let settings = channel.settings
        switch channel.kind {
        case .webhook:
            guard let url = settings.url, let secret else { throw AlertTargetError("webhook channel \(channel.id) has no URL or no secret") }
            self = .webhook(url: url, secret: secret)
        case .slack:
            guard let secret, let url = String(validating: secret, as: UTF8.self) else {
                throw AlertTargetError("Slack channel \(channel.id) has no URL")
            }
            self = .slack(url: url)
        case .email:
            guard let host = settings.host, let from = settings.from, let to = settings.to, !to.isEmpty else {
                throw AlertTargetError("email channel \(channel.id) has no server, sender or recipients")
            }
            let security = settings.security ?? .starttls
            self = .email(
                EmailTarget(
                    host: host, port: settings.port ?? security.defaultPort, security: security, username: settings.username,
                    password: secret.flatMap { String(validating: $0, as: UTF8.self) }, from: from, to: to,
                    caCertificate: settings.caCertificate))
        }
    }
}

/// Why a channel cannot be sent to, one sentence.
public struct AlertTargetError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
