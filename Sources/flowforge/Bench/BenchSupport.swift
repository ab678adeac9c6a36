import FlowForgeShared
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// The database one benchmark runs against: a fresh database on `DATABASE_URL`'s server
/// (dropped afterwards), or, without it, a private PostgreSQL cluster in a temporary
/// directory (stopped and removed afterwards). Either way it is migrated and empty.
struct BenchDatabase {
    let url: DatabaseURL
    private let admin: DatabaseURL?
    let cluster: LocalPostgres?

    static func open(logger: Logger) async throws -> BenchDatabase {
        let settings = try Settings.load()
        let url: DatabaseURL
        var admin: DatabaseURL?
        var cluster: LocalPostgres?
        if let configured = settings.databaseURL {
            let name = "flowforge_bench_\(LocalPostgres.randomToken(bytes: 6).lowercased().filter { $0.isLetter || $0.isNumber })"
            try await PostgresClient.withClient(configured.clientConfiguration(maximumConnections: 1), logger: logger) {
                try await $0.query("CREATE DATABASE \(unescaped: name)", logger: logger)
            }
            admin = configured
            url = configured.withDatabase(name)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-bench-\(getpid())")
            let local = LocalPostgres(directory: directory)
            url = try await local.start(maxConnections: 300, logger: logger)
            cluster = local
        }
        let migrator = try Migrator(directory: try Migrator.locateDirectory())
        try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: logger) {
            try await migrator.migrate(client: $0, logger: logger)
        }
        return BenchDatabase(url: url, admin: admin, cluster: cluster)
    }

    func close(logger: Logger) async {
        if let admin {
            _ = try? await PostgresClient.withClient(admin.clientConfiguration(maximumConnections: 1), logger: logger) {
                try await $0.query("DROP DATABASE IF EXISTS \(unescaped: url.database) WITH (FORCE)", logger: logger)
            }
        }
        if let cluster {
            try? cluster.stop()
            try? FileManager.default.removeItem(at: cluster.directory)
        }
    }
}

/// A FlowForge executable started as a real child process, its output in a log file.
final class BenchProcess: Sendable {
    let name: String
    let pid: pid_t
    let logPath: String
    private let lastUsage = Mutex<(rssKiB: Int, cpuSeconds: Double)>((0, 0))

    /// Starts `program` (a sibling of this executable) with the environment given on top of ours.
    init(_ program: String, name: String, environment: [String: String], arguments: [String] = [], logDirectory: URL) throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent(program).path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw SpawnError("\(executable) is missing: build it first (swift build -c release)")
        }
        self.name = name
        logPath = logDirectory.appendingPathComponent("\(name).log").path
        let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        pid = try ChildProcess.spawn([executable] + arguments, outputPath: logPath, environment: env)
    }

    /// Peak resident memory and CPU seconds so far, from /proc (remembered, so it can still be
    /// reported after the process exits).
    @discardableResult
    func usage() -> (rssKiB: Int, cpuSeconds: Double) {
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""),
            let stat = ProcStat(pid: pid)
        {
            lastUsage.withLock { $0 = (kib, stat.cpuSeconds) }
        }
        return lastUsage.withLock { $0 }
    }

    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`. Returns the wait status.
    func stop(grace: Duration = .seconds(40)) async -> Int32 {
        usage()
        kill(pid, SIGTERM)
        let pid = self.pid
        let exited = Task.detached { await Self.waitForExit(pid) }
        let killer = Task.detached {
            try? await Task.sleep(for: grace)
            if !Task.isCancelled { kill(pid, SIGKILL) }
        }
        let status = await exited.value
        killer.cancel()
        return status
    }

    static func waitForExit(_ pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: ChildProcess.waitForExit(pid)) }.start()
        }
    }

    static func report(_ processes: [BenchProcess]) {
        for process in processes {
            let (rss, cpu) = process.usage()
            print("process name=\(process.name) pid=\(process.pid) rss_mib=\(String(format: "%.1f", Double(rss) / 1024)) cpu_s=\(String(format: "%.2f", cpu))")
        }
    }
}

/// The processes a benchmark started; all of them are stopped however it ends.
final class BenchProcesses: Sendable {
    private let processes = Mutex<[BenchProcess]>([])

    var all: [BenchProcess] { processes.withLock { $0 } }

    func add(_ process: BenchProcess) {
        processes.withLock { $0.append(process) }
    }

    func stopAll(grace: Duration = .seconds(40)) async {
        await withTaskGroup(of: Void.self) { group in
            for process in all where process.isRunning {
                group.addTask { _ = await process.stop(grace: grace) }
            }
        }
    }
}

/// Progress on a terminal as one bar redrawn in place; elsewhere a plain line every few seconds.
struct BenchProgress {
    let label: String
    let total: Int
    private let terminal = isatty(STDOUT_FILENO) == 1
    private var lastLine = ContinuousClock.now
    private var lastFigure: ContinuousClock.Instant?

    init(_ label: String, total: Int) {
        self.label = label
        self.total = total
    }

    /// Whether a new figure would be shown now (twice a second on a terminal, every 5 s in
    /// plain lines); for figures that are costly to get. Asking counts as getting one.
    var wantsFigure: Bool {
        mutating get {
            let now = ContinuousClock.now
            if let last = lastFigure, now - last < (terminal ? .milliseconds(500) : .seconds(5)) { return false }
            lastFigure = now
            return true
        }
    }

    mutating func update(_ done: Int) {
        if terminal {
            let width = 30
            let filled = total > 0 ? min(width, done * width / total) : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardOutput.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
        } else if ContinuousClock.now - lastLine >= .seconds(5) || done >= total {
            lastLine = ContinuousClock.now
            print("\(label): \(done)/\(total)")
        }
    }

    func finish() {
        if terminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }
}

/// Figures as the summary lines print them.
enum BenchFormat {
    static func decimal(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

    /// The p-th percentile (0...100) of `values`, nearest rank.
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}

/// The fields of /proc/<pid>/stat a benchmark reads.
struct ProcStat {
    let parent: Int32
    /// User plus system CPU time so far.
    let cpuSeconds: Double
    /// User plus system CPU time of the children it has waited for (exited and reaped).
    let reapedChildrenCPUSeconds: Double

    init?(pid: Int32) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "(comm)": state, ppid, … ; utime, stime, cutime and cstime are the 12th to 15th
        // fields from there.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]),
            let childrenUser = Double(fields[13]), let childrenSystem = Double(fields[14])
        else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        self.parent = parent
        cpuSeconds = (user + system) / ticks
        reapedChildrenCPUSeconds = (childrenUser + childrenSystem) / ticks
    }
}

/// CPU seconds used so far by a private cluster's postmaster and all its children, those that
/// have exited too (the backends of connections that closed).
func postgresCPUSeconds(_ cluster: LocalPostgres) -> Double? {
    guard let text = try? String(contentsOf: cluster.dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8),
        let postmaster = Int32(text.split(separator: "\n").first ?? "")
    else { return nil }
    var total = 0.0
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), let stat = ProcStat(pid: pid) else { continue }
        if pid == postmaster {
            total += stat.cpuSeconds + stat.reapedChildrenCPUSeconds
        } else if stat.parent == postmaster {
            total += stat.cpuSeconds
        }
    }
    return total
}

/// A benchmark's calls to the API process it started, with its token.
struct BenchAPI {
    let base: String
    let token: String
    let session = URLSession(configuration: .ephemeral)

    /// Until `/readyz` answers 200, at most 30 s.
    func waitUntilReady() async throws {
        let ready = ContinuousClock.now + .seconds(30)
        while true {
            if let (_, response) = try? await session.data(from: URL(string: "\(base)/readyz")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            { return }
            guard ContinuousClock.now < ready else { throw BenchError("flowforge-api did not become ready within 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    func post(_ path: String, _ body: JSONValue, expect status: Int) async throws -> JSONValue {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.encoded())
        let (data, response) = try await session.data(for: request)
        let code = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard code == status else { throw BenchError("POST \(path) answered \(code): \(String(decoding: data, as: UTF8.self))") }
        return try JSONValue.parse(data)
    }
}
