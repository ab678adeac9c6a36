/// Where and how an email channel hands its messages over: the SMTP server of the channel's
/// settings, with its password unsealed.
public struct SMTPServer: Sendable {
    public var host: String
    public var port: Int
    public var security: SMTPSecurity
    /// With `password`, the client authenticates (AUTH PLAIN, or LOGIN where only that is offered).
    public var username: String?
    public var password: String?
    /// A PEM certificate to trust besides the system's roots: a company CA, or the server's own
    /// self-signed certificate. The server's name is still checked against its certificate.
    public var trustedCertificatePEM: String?
    /// The whole conversation, from connecting to the reply to the message, must fit in this.
    public var timeout: Duration

    public init(
        host: String, port: Int, security: SMTPSecurity = .starttls, username: String? = nil, password: String? = nil,
        trustedCertificatePEM: String? = nil, timeout: Duration = .seconds(30)
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.trustedCertificatePEM = trustedCertificatePEM
        self.timeout = timeout
    }
}

/// How the connection to the SMTP server is encrypted: the channel's `security` setting
/// (`EmailSecurity`, Models/AlertChannel.swift), one type for the API, the store and the client.
public typealias SMTPSecurity = EmailSecurity
