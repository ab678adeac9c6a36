/// What one attempt to deliver an alert came to: delivered, or not and why, with what the
/// receiver said (an HTTP status and the start of its body, or an SMTP server's last reply).
public struct AlertDeliveryResult: Sendable, Equatable {
    public var delivered: Bool
    /// Whether trying again later may succeed: a server error, a timeout, a refused connection.
    /// A receiver that refused the message itself (most 4xx answers, a 5xx SMTP reply) will
    /// refuse it again.
    public var retryable: Bool
    public var statusCode: Int?
    /// What the receiver answered, at most `maxResponse` characters.
    public var response: String?
    /// Why it was not delivered, one sentence; nil when it was.
    public var error: String?
    public var duration: Duration

    /// How much of a receiver's answer is kept.
    public static let maxResponse = 500

    public init(delivered: Bool, retryable: Bool, statusCode: Int? = nil, response: String? = nil, error: String? = nil, duration: Duration) {
        self.delivered = delivered
        self.retryable = retryable
        self.statusCode = statusCode
        self.response = response.map { String($0.prefix(Self.maxResponse)) }
        self.error = error
        self.duration = duration
    }

    public var durationMilliseconds: Int { Int(duration / .milliseconds(1)) }

    /// A delivery that could not even be tried (no key to open the channel's secret, the channel
    /// deleted): final, nothing sent.
    public static func notSent(_ error: String) -> AlertDeliveryResult {
        AlertDeliveryResult(delivered: false, retryable: false, error: error, duration: .zero)
    }
}
