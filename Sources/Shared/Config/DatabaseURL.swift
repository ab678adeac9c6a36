import Foundation
import PostgresNIO

/// `postgres://user:pass@host:port/db?sslmode=disable|prefer|require`, parsed once at start.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode

    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public init(host: String, port: Int, username: String, password: String?, database: String, tlsMode: TLSMode = .disable) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
    }

    public init(_ text: String) throws(ConfigError) {
        let invalid = ConfigError("DATABASE_URL must look like postgres://user:password@host:5432/database")
        guard let components = URLComponents(string: text),
            let scheme = components.scheme, scheme == "postgres" || scheme == "postgresql",
            let host = components.host, !host.isEmpty
        else { throw invalid }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, let user = components.user, !user.isEmpty else { throw invalid }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        switch mode {
        case "disable": tlsMode = .disable
        case "prefer", "allow": tlsMode = .prefer
        case "require", "verify-ca", "verify-full": tlsMode = .require
        default: throw ConfigError("DATABASE_URL sslmode must be disable, prefer or require, not \(mode)")
        }
    }

    /// The URL with the password, for handing to child processes; never log it.
    public var urlString: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = username
        components.password = password
        components.host = host
        components.port = port
        components.path = "/" + database
        components.queryItems = [URLQueryItem(name: "sslmode", value: tlsMode.rawValue)]
        return components.string ?? ""
    }

    /// The URL with the password masked: safe for logs and error lines.
    public var description: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    public func withDatabase(_ name: String) -> DatabaseURL {
        var copy = self
        copy.database = name
        return copy
    }

    /// Planner settings for the connections that claim and complete jobs (the worker's).
    ///
    /// A queue table's statistics are wrong by nature: autovacuum analyzes `jobs` just after a
    /// burst has drained, so the planner believes the table is empty until the next analyze,
    /// and a plan cached then stays. It then reads a full queue with a sequential scan, sorts
    /// it, and joins the claimed jobs back with a nested loop over every row: measured at
    /// 250–400 ms per claim with 10,000 jobs due, instead of under 2 ms. Every statement a
    /// worker sends is a key or index lookup, so its connections ask the planner to avoid
    /// sequential scans and sorts whatever the statistics say (a cost penalty, not a ban: a
    /// table without a usable index is still read). JIT is off too: the penalty pushes such a
    /// plan's cost past `jit_above_cost`, and compiling a 1 ms query took 150–400 ms.
    /// Prepared statements keep their generic plan: PostgreSQL otherwise judged the batch
    /// statement's generic plan dearer than a custom one and planned it again at every
    /// execution (measured: 80 plans for 78 executions, 8 % of its time); the plans are the
    /// same, and a test EXPLAINs the generic ones.
    public static let queueWorkerPlannerSettings: [(String, String)] = [
        ("enable_seqscan", "off"), ("enable_sort", "off"), ("jit", "off"), ("plan_cache_mode", "force_generic_plan"),
    ]

    /// A client configuration for this database. `queueWorker` adds
    /// `queueWorkerPlannerSettings` to every connection's startup parameters; `applicationName`
    /// names the connections in `pg_stat_activity` (PostgreSQL keeps the first 63 bytes).
    public func clientConfiguration(
        maximumConnections: Int = 20, queueWorker: Bool = false, applicationName: String? = nil
    ) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        var parameters: [(String, String)] = queueWorker ? Self.queueWorkerPlannerSettings : []
        if let applicationName { parameters.append(("application_name", applicationName)) }
        configuration.options.additionalStartupParameters = parameters
        return configuration
    }
}

/// A setting that stops the process at start; its message is the one line the user sees.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
