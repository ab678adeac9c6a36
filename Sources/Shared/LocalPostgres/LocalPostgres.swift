import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster in a folder of its own (`.flowforge/pg` for `flowforge dev`):
/// created with initdb on first use, listening on loopback only, on a free port, with a
/// generated password. The data stays between runs.
public struct LocalPostgres: Sendable {
    public let directory: URL
    public let databaseName: String
    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    var passwordFile: URL { directory.appendingPathComponent("password") }
    var logFile: URL { directory.appendingPathComponent("postgres.log") }
    static let superuser = "flowforge"

    public init(directory: URL, databaseName: String = "flowforge") {
        self.directory = directory.standardizedFileURL
        self.databaseName = databaseName
    }

    /// Starts the cluster (creating it if needed) and its database; returns how to reach it.
    /// A cluster already running from an earlier start is reused.
    public func start(maxConnections: Int = 200, logger: Logger) async throws -> DatabaseURL {
        let bin = try Self.binDirectory()
        let owner = try Self.clusterOwner()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let owner { try Self.run(["chown", owner, directory.path]) }

        if !FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            logger.info("creating a private PostgreSQL cluster", metadata: ["directory": "\(dataDirectory.path)"])
            let password = Self.randomToken(bytes: 24)
            try Data(password.utf8).write(to: passwordFile)
            chmod(passwordFile.path, 0o600)
            if let owner { try Self.run(["chown", owner, passwordFile.path]) }
            try Self.run(
                [bin.appendingPathComponent("initdb").path, "-D", dataDirectory.path, "-U", Self.superuser,
                 "--auth=scram-sha-256", "--pwfile=\(passwordFile.path)", "-E", "UTF8", "--no-locale", "--no-sync"],
                as: owner)
        }
        guard let password = try? String(contentsOf: passwordFile, encoding: .utf8) else {
            throw ConfigError("cannot read \(passwordFile.path); remove \(directory.path) to start over")
        }

        let port: Int
        if let running = runningPort() {
            port = running
            logger.info("reusing the running private PostgreSQL", metadata: ["port": "\(port)"])
        } else {
            port = try Self.freePort()
            try Self.run(
                [bin.appendingPathComponent("pg_ctl").path, "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60",
                 "-o", "-p \(port) -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=\(maxConnections)",
                 "start"],
                as: owner)
        }
        let admin = DatabaseURL(
            host: "127.0.0.1", port: port, username: Self.superuser,
            password: password.trimmingCharacters(in: .whitespacesAndNewlines), database: "postgres")
        try await createDatabase(admin: admin, logger: logger)
        return admin.withDatabase(databaseName)
    }

    /// Stops the cluster (fast shutdown: running queries are cancelled). No-op when not running.
    public func stop() throws {
        guard runningPort() != nil else { return }
        try Self.run(
            [try Self.binDirectory().appendingPathComponent("pg_ctl").path, "-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"],
            as: try Self.clusterOwner())
    }

    private func createDatabase(admin: DatabaseURL, logger: Logger) async throws {
        let name = databaseName
        try await PostgresClient.withClient(admin.clientConfiguration(maximumConnections: 1), logger: logger) { client in
            let rows = try await client.query("SELECT 1 FROM pg_database WHERE datname = \(name)")
            var exists = false
            for try await _ in rows { exists = true }
            if !exists {
                // Identifiers cannot be bound; the name is ours, never user input, and quoted.
                try await client.query("CREATE DATABASE \(unescaped: "\"" + name.replacingOccurrences(of: "\"", with: "") + "\"")")
            }
        }
    }

    /// The port of a postmaster running on this data directory, from its postmaster.pid.
    func runningPort() -> Int? {
        guard let text = try? String(contentsOf: dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8) else {
            return nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), let port = Int(lines[3]), kill(pid, 0) == 0 else { return nil }
        return port
    }

    // MARK: - Machine facts

    /// Where initdb and pg_ctl are: on PATH, or Debian's /usr/lib/postgresql/<newest>/bin.
    public static func binDirectory() throws(ConfigError) -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/initdb") {
            return URL(fileURLWithPath: "\(folder)/initdb").resolvingSymlinksInPath().deletingLastPathComponent()
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return URL(fileURLWithPath: "\(root)/\(version)/bin")
        }
        throw ConfigError("PostgreSQL is not installed (no initdb found): run `make run`, or `apt-get install postgresql`, or set DATABASE_URL")
    }

    /// PostgreSQL refuses to run as root; as root we run it as the `postgres` system user
    /// (Debian's package creates it) or a `flowforge` one we create. nil: run as ourselves.
    static func clusterOwner() throws -> String? {
        guard geteuid() == 0 else { return nil }
        for user in ["postgres", "flowforge"] where getpwnam(user) != nil { return user }
        try run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "flowforge"])
        return "flowforge"
    }

    /// Runs a command to completion; a non-zero exit is an error carrying its output.
    @discardableResult
    static func run(_ arguments: [String], as user: String? = nil) throws -> String {
        let argv = (user.map { ["runuser", "-u", $0, "--"] } ?? []) + arguments
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-\(UUID().uuidString).out").path
        defer { unlink(outputPath) }
        let name = URL(fileURLWithPath: arguments[0]).lastPathComponent
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(argv, outputPath: outputPath)
        } catch {
            throw ConfigError(error.description)
        }
        let (exited, code) = ChildProcess.termination(ChildProcess.waitForExit(pid))
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard exited && code == 0 else {
            let how = exited ? "exit \(code)" : "signal \(code)"
            throw ConfigError("\(name) failed (\(how)): \(text.trimmingCharacters(in: .whitespacesAndNewlines).suffix(800))")
        }
        return text
    }

    /// A port on 127.0.0.1 nobody listens on right now.
    public static func freePort() throws(ConfigError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConfigError("cannot open a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw ConfigError("cannot find a free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Hex of `bytes` random bytes from the system's CSPRNG.
    public static func randomToken(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
