import ArgumentParser
import Foundation
import Logging

/// Flags every FlowForge process takes. Each overrides the environment variable it names.
public struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (DATABASE_URL).")
    public var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (FLOWFORGE_LOG_LEVEL).")
    public var logLevel: String?

    @Option(name: .customLong("metrics-port"), help: "Serve /metrics and /healthz on this port (FLOWFORGE_METRICS_PORT).")
    public var metricsPort: String?

    public init() {}

    public var overrides: [String: String] {
        var values: [String: String] = [:]
        values["DATABASE_URL"] = databaseURL
        values["FLOWFORGE_LOG_LEVEL"] = logLevel
        values["FLOWFORGE_METRICS_PORT"] = metricsPort
        return values
    }
}

/// Flags of the processes that serve HTTP (`flowforge-api`, `flowforge dev`).
public struct HTTPOptions: ParsableArguments {
    @Option(help: "Address to listen on (FLOWFORGE_HTTP_HOST).") public var host: String?
    @Option(help: "Port to listen on (FLOWFORGE_HTTP_PORT).") public var port: String?

    public init() {}

    /// `overrides` with these flags added.
    public func adding(to overrides: [String: String]) -> [String: String] {
        var values = overrides
        values["FLOWFORGE_HTTP_HOST"] = host
        values["FLOWFORGE_HTTP_PORT"] = port
        return values
    }
}

/// Starts a FlowForge process: settings are loaded and logging set up once; a bad setting
/// stops it with one line on stderr and exit code 78 (EX_CONFIG).
public enum ProcessBootstrap {
    public static func settings(program: String, overrides: [String: String]) -> Settings {
        do {
            let settings = try Settings.load(overrides: overrides)
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = settings.logLevel
                return handler
            }
            return settings
        } catch {
            fail(program: program, error.message)
        }
    }

    /// The database every process needs: `DATABASE_URL`, or a stop with one line saying so.
    public static func databaseURL(_ settings: Settings, program: String) -> DatabaseURL {
        do {
            return try settings.requireDatabaseURL()
        } catch {
            fail(program: program, error.message)
        }
    }

    /// For a process that runs steps: makes it non-dumpable and resolves who steps run as, or
    /// stops with one line saying what is wrong.
    public static func stepIsolation(_ settings: Settings, program: String, logger: Logger) -> StepIsolation {
        do {
            try StepIsolation.protectProcess()
            let isolation = try StepIsolation.resolve(stepUser: settings.stepUser, passthrough: settings.stepEnvironmentPassthrough)
            if let user = isolation.user {
                logger.info("steps run as another user", metadata: ["step_user": "\(user.name)", "uid": "\(user.uid)"])
            } else if geteuid() == 0 {
                logger.warning(
                    "steps run as root and can read every file and process of this host, this worker's secrets included; set FLOWFORGE_STEP_USER")
            }
            return isolation
        } catch {
            fail(program: program, error.message)
        }
    }

    public static func fail(program: String, _ message: String) -> Never {
        FileHandle.standardError.write(Data("\(program): \(message)\n".utf8))
        exit(78)
    }
}
