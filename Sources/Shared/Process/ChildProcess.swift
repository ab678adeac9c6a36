import CStepSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starting child processes, for the two places FlowForge runs programs: PostgreSQL's tools
/// (`flowforge dev`) and shell steps (the worker).
///
/// A child gets descriptors 0, 1 and 2 and nothing else of ours: every other descriptor is
/// closed between fork and exec, close-on-exec or not (libraries open sockets without it, and a
/// step once found the worker's database connections open), and its environment is exactly the
/// one given. Not Foundation's Process: it cannot put a child in a process group of its own or
/// start it as another user, and it was seen never to notice a child's exit when that child left
/// a daemon behind (`pg_ctl start`).
public enum ChildProcess {
    /// Another user to run a child as, resolved once (see `StepUser`).
    public struct User: Sendable, Equatable {
        public var name: String
        public var uid: uid_t
        public var gid: gid_t
        public var groups: [gid_t]
        public var home: String

        public init(name: String, uid: uid_t, gid: gid_t, groups: [gid_t], home: String) {
            self.name = name
            self.uid = uid
            self.gid = gid
            self.groups = groups
            self.home = home
        }
    }

    /// Starts `argv` with stdin from /dev/null and stdout and stderr into `outputPath`.
    /// - environment: the child's whole environment; nil passes ours.
    public static func spawn(
        _ argv: [String], outputPath: String, environment: [String: String]? = nil, directory: String? = nil
    ) throws(SpawnError) -> pid_t {
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw SpawnError("cannot open \(outputPath): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        return try spawn(argv, output: output, environment: environment ?? ProcessInfo.processInfo.environment, directory: directory)
    }

    /// Starts `argv` with stdin from /dev/null and stdout and stderr on `output`.
    /// - newProcessGroup: the child leads a process group of its own, so that signalling `-pid`
    ///   reaches everything it starts.
    /// - user: the child drops to this user (its groups, gid and uid) before it changes to
    ///   `directory` and execs; the caller needs the rights to switch (root, or CAP_SETUID and
    ///   CAP_SETGID).
    public static func spawn(
        _ argv: [String], output: Int32, environment: [String: String], directory: String? = nil, newProcessGroup: Bool = false,
        user: User? = nil
    ) throws(SpawnError) -> pid_t {
        guard let program = argv.first, !program.isEmpty else { throw SpawnError("nothing to run") }
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SpawnError("cannot open /dev/null: \(String(cString: strerror(errno)))") }
        defer { close(input) }

        let candidates = CStrings(Self.candidates(for: program, path: environment["PATH"]))
        let arguments = CStrings(argv)
        let variables = CStrings(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        var failure = ff_spawn_failure()
        let groups = user?.groups ?? []
        let pid = withExtendedLifetime((candidates, arguments, variables)) {
            groups.withUnsafeBufferPointer { groupList in
            withOptionalCString(directory) { cDirectory in
                var request = ff_spawn_request(
                    candidates: candidates.pointer, argv: arguments.pointer, envp: variables.pointer, directory: cDirectory,
                    stdin_fd: input, stdout_fd: output, stderr_fd: output, new_process_group: newProcessGroup ? 1 : 0,
                    switch_user: user == nil ? 0 : 1, uid: user?.uid ?? 0, gid: user?.gid ?? 0, groups: groupList.baseAddress,
                    group_count: Int32(groupList.count))
                return ff_spawn(&request, &failure)
            }
            }
        }
        guard pid > 0 else { throw SpawnError(failure: failure, program: program, directory: directory, user: user) }
        return pid
    }

    /// Where to look for `program`: itself when it names a path, else each directory of PATH.
    static func candidates(for program: String, path: String?) -> [String] {
        if program.contains("/") { return [program] }
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
        return directories.map { $0.isEmpty ? "./\(program)" : "\($0)/\(program)" }
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

    init(failure: ff_spawn_failure, program: String, directory: String?, user: ChildProcess.User?) {
        let reason = String(cString: strerror(failure.error))
        let who = user.map { " as user \($0.name)" } ?? ""
        switch Int(failure.stage) {
        case Int(FF_STAGE_DIRECTORY): self.init("cannot enter working directory \(directory ?? "")\(who): \(reason)")
        case Int(FF_STAGE_GROUPS), Int(FF_STAGE_GID), Int(FF_STAGE_UID): self.init("cannot switch to user \(user?.name ?? "")\(who): \(reason)")
        case Int(FF_STAGE_EXEC): self.init("cannot start \(program)\(who): \(reason)")
        default: self.init("cannot start \(program): \(reason)")
        }
    }
}

/// A NULL-terminated array of C strings that lives as long as this value.
private final class CStrings {
    let storage: [UnsafeMutablePointer<CChar>?]
    let pointer: UnsafePointer<UnsafePointer<CChar>?>

    init(_ strings: [String]) {
        storage = strings.map { strdup($0) } + [nil]
        let buffer = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: storage.count)
        for (index, string) in storage.enumerated() { buffer[index] = string.map { UnsafePointer($0) } }
        pointer = UnsafePointer(buffer)
    }

    deinit {
        for string in storage { free(string) }
        UnsafeMutablePointer(mutating: pointer).deallocate()
    }
}

private func withOptionalCString<Result>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
