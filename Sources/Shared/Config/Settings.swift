import Foundation
import Logging

/// Every setting of DESIGN.md's Configuration section, read from the environment.
/// Command-line flags override by supplying the same variable names (see `load(environment:overrides:)`),
/// so a value is checked, and its error worded, in one place.
public struct Settings: Sendable {
    public var databaseURL: DatabaseURL?
    public var apiTokens: [String] = []
    public var httpHost = "127.0.0.1"
    public var httpPort = 8080
    public var workerConcurrency = 4
    public var workerID: String
    /// How long a claimed job stays a worker's without renewal before maintenance may rescue it.
    public var workerLeaseSeconds = 30
    /// After SIGTERM, how long a worker lets running steps finish before it hands them back.
    public var workerShutdownGraceSeconds = 30
    public var logLevel: Logger.Level = .info
    public var metricsPort: Int?
    /// Finished executions older than this many days are deleted by the scheduler; 0 keeps them all.
    public var historyRetentionDays = 30
    /// Seals secrets in the database (`FLOWFORGE_SECRET_KEY`): the API needs it for webhook
    /// triggers and alert channels, the scheduler to open alert channels' secrets; every API
    /// and scheduler replica must have the same.
    public var secretBox: SecretBox?
    /// The user steps run as (`FLOWFORGE_STEP_USER`, a name or a numeric uid), so that they
    /// cannot read the worker's secrets or its process; nil runs them as the worker's own user.
    public var stepUser: String?
    /// Variables of the worker's own environment that steps get too
    /// (`FLOWFORGE_STEP_ENV_PASSTHROUGH`, comma-separated names); none by default. Never the
    /// database's or FlowForge's own settings.
    public var stepEnvironmentPassthrough: [String] = []
    /// The web UI's address as people reach it (`FLOWFORGE_PUBLIC_URL`, e.g.
    /// https://flowforge.example.com): alerts link to the run under it. nil: alerts carry no link.
    public var publicURL: String?

    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: [String: String] = [:]
    ) throws(ConfigError) -> Settings {
        let values = environment.merging(overrides.filter { !$0.value.isEmpty }) { _, flag in flag }
        func value(_ name: String) -> String? {
            guard let text = values[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        /// A secret comes from the variable itself or from the file `<name>_FILE` names, never
        /// both; a command-line flag (an override of `<name>`) wins over either.
        func secret(_ name: String) throws(ConfigError) -> String? {
            let fileVariable = "\(name)_FILE"
            if overrides[name].map({ !$0.isEmpty }) == true { return value(name) }
            guard let path = value(fileVariable) else { return value(name) }
            if value(name) != nil {
                throw ConfigError("\(name) and \(fileVariable) are both set: give \(name) in only one of them")
            }
            let text = try SecretFile.contents(of: path, variable: fileVariable).trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : text
        }
        var settings = Settings(workerID: "\(ProcessInfo.processInfo.hostName):\(getpid())")
        if let url = try secret("DATABASE_URL") { settings.databaseURL = try DatabaseURL(url) }
        if let tokens = try secret("FLOWFORGE_API_TOKEN") {
            settings.apiTokens = tokens.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let host = value("FLOWFORGE_HTTP_HOST") { settings.httpHost = host }
        try APITokenRules.check(settings.apiTokens, host: settings.httpHost)
        if let port = value("FLOWFORGE_HTTP_PORT") { settings.httpPort = try Self.port(port, name: "FLOWFORGE_HTTP_PORT") }
        if let text = value("FLOWFORGE_WORKER_CONCURRENCY") {
            guard let count = Int(text), (1...1_024).contains(count) else {
                throw ConfigError("FLOWFORGE_WORKER_CONCURRENCY must be a whole number from 1 to 1024, not \"\(text)\"")
            }
            settings.workerConcurrency = count
        }
        if let text = value("FLOWFORGE_WORKER_LEASE_SECONDS") {
            guard let seconds = Int(text), (2...3_600).contains(seconds) else {
                throw ConfigError("FLOWFORGE_WORKER_LEASE_SECONDS must be a whole number from 2 to 3600, not \"\(text)\"")
            }
            settings.workerLeaseSeconds = seconds
        }
        if let text = value("FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS") {
            guard let seconds = Int(text), (0...86_400).contains(seconds) else {
                throw ConfigError("FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS must be a whole number from 0 to 86400, not \"\(text)\"")
            }
            settings.workerShutdownGraceSeconds = seconds
        }
        if let id = value("FLOWFORGE_WORKER_ID") {
            guard id.count <= 200 else { throw ConfigError("FLOWFORGE_WORKER_ID must be at most 200 characters long") }
            settings.workerID = id
        }
        if let text = value("FLOWFORGE_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigError(
                    "FLOWFORGE_LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(text)\"")
            }
            settings.logLevel = level
        }
        if let port = value("FLOWFORGE_METRICS_PORT") { settings.metricsPort = try Self.port(port, name: "FLOWFORGE_METRICS_PORT") }
        if let text = value("FLOWFORGE_HISTORY_RETENTION_DAYS") {
            guard let days = Int(text), (0...36_500).contains(days) else {
                throw ConfigError("FLOWFORGE_HISTORY_RETENTION_DAYS must be a whole number of days from 0 (keep everything) to 36500, not \"\(text)\"")
            }
            settings.historyRetentionDays = days
        }
        if let key = try secret("FLOWFORGE_SECRET_KEY") { settings.secretBox = try SecretBox(keyText: key) }
        if let url = value("FLOWFORGE_PUBLIC_URL") {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host?.isEmpty == false,
                parsed.query == nil, parsed.fragment == nil
            else {
                throw ConfigError("FLOWFORGE_PUBLIC_URL must be an http or https address such as https://flowforge.example.com, not \"\(url)\"")
            }
            settings.publicURL = url
        }
        if let user = value("FLOWFORGE_STEP_USER") { settings.stepUser = try Self.stepUser(user) }
        if let names = value("FLOWFORGE_STEP_ENV_PASSTHROUGH") {
            settings.stepEnvironmentPassthrough = try Self.stepEnvironmentPassthrough(names)
        }
        return settings
    }

    /// A user name or a numeric uid, as `getpwnam` and `setuid` take it; whether the user
    /// exists is the worker's to find out, on the host where it runs.
    static func stepUser(_ text: String) throws(ConfigError) -> String {
        let forbidden = text.contains { $0.isWhitespace || $0 == ":" || $0 == "/" }
        guard text.count <= 64, !forbidden else {
            throw ConfigError(
                "FLOWFORGE_STEP_USER must be a user name or a numeric uid (at most 64 characters, no spaces, colons or slashes), not \"\(text)\"")
        }
        return text
    }

    /// Names only, and none that would hand a step the database or FlowForge's own settings.
    static func stepEnvironmentPassthrough(_ text: String) throws(ConfigError) -> [String] {
        var names: [String] = []
        for item in text.split(separator: ",") {
            let name = item.trimmingCharacters(in: .whitespaces)
            if name.isEmpty || names.contains(name) { continue }
            guard Self.isEnvironmentName(name) else {
                throw ConfigError(
                    "FLOWFORGE_STEP_ENV_PASSTHROUGH: \"\(name)\" is not a variable name (letters, digits and _, not starting with a digit)")
            }
            let upper = name.uppercased()
            if upper == "DATABASE_URL" || upper == "DATABASE_URL_FILE" {
                throw ConfigError("FLOWFORGE_STEP_ENV_PASSTHROUGH: \(name) cannot be passed to steps: it holds the database's password")
            }
            if upper.hasPrefix("FLOWFORGE_") {
                throw ConfigError(
                    "FLOWFORGE_STEP_ENV_PASSTHROUGH: \(name) cannot be passed to steps: FLOWFORGE_ variables are FlowForge's own settings and secrets, and steps get their own FLOWFORGE_ context")
            }
            if upper.hasPrefix("PG") {
                throw ConfigError(
                    "FLOWFORGE_STEP_ENV_PASSTHROUGH: \(name) cannot be passed to steps: PG variables (PGPASSWORD, PGHOST, PGPASSFILE, …) would connect a step's libpq to the worker's database")
            }
            names.append(name)
        }
        return names
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`, the names a POSIX shell can use.
    private static func isEnvironmentName(_ name: String) -> Bool {
        func isLetter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) || byte == 95 }
        guard let first = name.utf8.first, isLetter(first) else { return false }
        return name.utf8.allSatisfy { isLetter($0) || (48...57).contains($0) }
    }

    private static func port(_ text: String, name: String) throws(ConfigError) -> Int {
        guard let port = Int(text), (0...65_535).contains(port) else {
            throw ConfigError("\(name) must be a port number from 0 to 65535, not \"\(text)\"")
        }
        return port
    }

    public func requireDatabaseURL() throws(ConfigError) -> DatabaseURL {
        guard let databaseURL else {
            throw ConfigError(
                "DATABASE_URL is not set: give postgres://user:password@host:5432/database, or DATABASE_URL_FILE naming a file that holds it (or use `flowforge dev`)")
        }
        return databaseURL
    }

    public func makeLogger(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
