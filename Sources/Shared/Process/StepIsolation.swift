import CStepSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Who a step runs as and the environment it starts from, decided once when a worker starts.
///
/// A step is arbitrary code from anyone who may define a workflow, and the worker holds the
/// database's password. So a step never inherits the worker's environment or descriptors (see
/// `ChildProcess`), the worker is non-dumpable (its `/proc/<pid>/environ`, `fd` and `mem` are
/// closed to every other process of its user), and with `FLOWFORGE_STEP_USER` steps run as
/// another user, who cannot read the worker's files or signal it.
public struct StepIsolation: Sendable {
    /// The user steps run as; nil runs them as the worker's own user.
    public var user: ChildProcess.User?
    /// What every step's environment starts from, before the step's own `env` and FlowForge's
    /// context: PATH, HOME, USER, LOGNAME, locale and time zone, TMPDIR, and the variables
    /// named in `FLOWFORGE_STEP_ENV_PASSTHROUGH`.
    public var baseEnvironment: [String: String]
    /// Where a step without a `working_directory` starts: the step user's home, else the worker's
    /// own working directory (nil).
    public var defaultDirectory: String?

    /// Variables a step gets from the worker's environment without being asked for: none of them
    /// is a credential.
    static let harmless = ["PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR", "TERM"]

    public init(user: ChildProcess.User? = nil, baseEnvironment: [String: String], defaultDirectory: String? = nil) {
        self.user = user
        self.baseEnvironment = baseEnvironment
        self.defaultDirectory = defaultDirectory
    }

    /// Steps as the worker's own user, with the harmless part of `environment` (tests, and a
    /// worker configured without a step user).
    public static func sameUser(environment: [String: String] = ProcessInfo.processInfo.environment) -> StepIsolation {
        var base = environment.filter { harmless.contains($0.key) }
        for name in ["HOME", "USER", "LOGNAME"] { base[name] = environment[name] }
        base["PATH"] = base["PATH"] ?? defaultPath
        return StepIsolation(baseEnvironment: base)
    }

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Resolves `FLOWFORGE_STEP_USER` and `FLOWFORGE_STEP_ENV_PASSTHROUGH` and checks that this
    /// process can switch to that user; a problem is a sentence for the start-up error.
    public static func resolve(
        stepUser: String?, passthrough: [String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> StepIsolation {
        var isolation = sameUser(environment: environment)
        for name in passthrough { isolation.baseEnvironment[name] = environment[name] }
        guard let stepUser else { return isolation }
        let user = try lookUp(stepUser)
        guard user.uid != 0 else {
            throw ConfigError("FLOWFORGE_STEP_USER must not be root: steps would hold every right the worker has")
        }
        if user.uid != geteuid() {
            let missing = missingCapabilities()
            guard missing.isEmpty else {
                throw ConfigError(
                    "FLOWFORGE_STEP_USER=\(stepUser) needs a worker started as root or with the capabilities SETUID, SETGID and KILL; this one lacks \(missing.joined(separator: ", "))"
                )
            }
            isolation.user = user
        }
        isolation.baseEnvironment["HOME"] = user.home
        isolation.baseEnvironment["USER"] = user.name
        isolation.baseEnvironment["LOGNAME"] = user.name
        isolation.defaultDirectory = FileManager.default.fileExists(atPath: user.home) ? user.home : "/"
        return isolation
    }

    /// The user named (or numbered) `name`, with its groups.
    static func lookUp(_ name: String) throws(ConfigError) -> ChildProcess.User {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        if let uid = uid_t(name) {
            getpwuid_r(uid, &entry, &buffer, buffer.count, &found)
        } else {
            getpwnam_r(name, &entry, &buffer, buffer.count, &found)
        }
        guard let found else {
            throw ConfigError("FLOWFORGE_STEP_USER names no user of this system: \"\(name)\" (create one with: useradd --system --create-home flowforge-step)")
        }
        let userName = String(cString: found.pointee.pw_name)
        let gid = found.pointee.pw_gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(userName, gid, &groups, &count) == -1 {
            groups = [gid_t](repeating: 0, count: Int(count) + 64)
            count = Int32(groups.count)
        }
        return ChildProcess.User(
            name: userName, uid: found.pointee.pw_uid, gid: gid, groups: Array(groups.prefix(Int(count))),
            home: String(cString: found.pointee.pw_dir))
    }

    /// Which of SETUID, SETGID and KILL this process lacks in its effective set.
    static func missingCapabilities() -> [String] {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return ["SETUID", "SETGID", "KILL"] }
        // Bits from linux/capability.h.
        return [("KILL", 5), ("SETGID", 6), ("SETUID", 7)].filter { mask & (1 << $0.1) == 0 }.map(\.0)
    }

    /// Makes this process non-dumpable (see `ff_make_non_dumpable`). Call it first thing in a
    /// process that runs steps. It also turns off core dumps.
    public static func protectProcess() throws(ConfigError) {
        guard ff_make_non_dumpable() == 0 else {
            throw ConfigError("cannot make the worker non-dumpable: \(String(cString: strerror(errno)))")
        }
    }
}
