import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starting child processes with posix_spawn, for the two places FlowForge runs programs:
/// PostgreSQL's tools (`flowforge dev`) and shell steps (the worker).
///
/// Not Foundation's Process: it cannot put a child in a process group of its own, and it was
/// seen never to notice a child's exit when that child left a daemon behind (`pg_ctl start`).
/// Output goes to a file rather than a pipe, since such a daemon could hold a pipe open forever.
public enum ChildProcess {
    /// Starts `argv` with stdin from /dev/null and stdout and stderr into `outputPath`.
    /// - environment: the child's whole environment; nil inherits ours.
    /// - newProcessGroup: the child leads a process group of its own, so that signalling
    ///   `-pid` reaches everything it starts; it also starts with default signal handling.
    public static func spawn(
        _ argv: [String], outputPath: String, environment: [String: String]? = nil, directory: String? = nil,
        newProcessGroup: Bool = false
    ) throws(SpawnError) -> pid_t {
        guard let program = argv.first else { throw SpawnError("nothing to run") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        if let directory {
            guard FileManager.default.fileExists(atPath: directory) else { throw SpawnError("working directory \(directory) does not exist") }
            _ = spawnFileActionsAddChdir(&actions, directory)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if newProcessGroup {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            posix_spawnattr_setpgroup(&attributes, 0)
            var noSignals = sigset_t()
            sigemptyset(&noSignals)
            posix_spawnattr_setsigmask(&attributes, &noSignals)
            var defaults = sigset_t()
            sigfillset(&defaults)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
        }
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        let cEnvironment: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for pointer in cEnvironment ?? [] { free(pointer) } }
        var pid: pid_t = 0
        let result: Int32 =
            if var cEnvironment {
                program.contains("/")
                    ? posix_spawn(&pid, program, &actions, &attributes, &cArguments, &cEnvironment)
                    : posix_spawnp(&pid, program, &actions, &attributes, &cArguments, &cEnvironment)
            } else {
                posix_spawnp(&pid, program, &actions, &attributes, &cArguments, environ)
            }
        guard result == 0 else { throw SpawnError("cannot start \(program): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Blocks until the child exits and returns its wait status. Call it off the cooperative
    /// thread pool (a thread of its own) when the child may run long.
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    /// Reads a wait status: the exit code, or the signal that ended the child.
    public static func termination(_ status: Int32) -> (exited: Bool, code: Int32) {
        let signal = status & 0x7f
        return signal == 0 ? (true, (status >> 8) & 0xff) : (false, signal)
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// glibc has had posix_spawn_file_actions_addchdir_np since 2.29, but Swift's Glibc module
/// does not export it. The child changes directory between fork and exec, so no thread of
/// ours ever changes the process-wide working directory.
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func spawnFileActionsAddChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32
