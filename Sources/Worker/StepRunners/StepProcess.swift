import CStepSpawn
import FlowForgeShared
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A started step's process, watched by a thread of its own: the thread reads the step's
/// output from a pipe as it comes, keeping only its last `maxOutputBytes` (so a step that prints
/// gigabytes costs the worker neither memory nor disk), and notices the exit through a pidfd.
/// The tail kept so far can be read at any time (`outputSoFar`): the live output of a running
/// step is read from it, once a second at most, never once per line.
///
/// When the step's process exits, whatever it left running in its process group is killed,
/// and the pipe is read until every writer is gone, or for at most `drainAfterExit` (a daemon
/// that left the group may hold it open for ever).
final class StepProcess: LiveOutputSource {
    let pid: pid_t
    let exit = ProcessExit()
    /// Appended to by the watching thread as the output comes.
    private let tail = Mutex(TailBuffer(capacity: maxOutputBytes))

    static let drainAfterExit: Duration = .seconds(1)

    /// Starts `argv` with stdout and stderr into one pipe.
    init(
        _ argv: [String], environment: [String: String], directory: String?, user: ChildProcess.User?
    ) throws(SpawnError) {
        var ends: [Int32] = [-1, -1]
        guard ff_pipe_cloexec(&ends) == 0 else { throw SpawnError("cannot make a pipe for the output: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        do {
            pid = try ChildProcess.spawn(argv, output: writeEnd, environment: environment, directory: directory, newProcessGroup: true, user: user)
        } catch {
            close(readEnd)
            close(writeEnd)
            throw error
        }
        close(writeEnd)
        let watcher = Thread { [self] in
            let status = Self.watch(pid: pid, output: readEnd) { bytes in tail.withLock { $0.append(bytes) } }
            close(readEnd)
            exit.finish(status)
        }
        watcher.name = "flowforge-step-\(pid)"
        watcher.start()
    }

    /// The output kept, all of it once `exit` has a status.
    var output: StepOutput { tail.withLock { $0.output } }

    var outputSoFar: StepOutput { output }
    var outputBytes: Int { tail.withLock { $0.total } }

    /// Reads the pipe until the process has exited and the pipe is drained, handing each piece
    /// read to `append`; returns the wait status. Blocks: runs on the step's own thread.
    private static func watch(pid: pid_t, output: Int32, append: (UnsafeRawBufferPointer) -> Void) -> Int32 {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 1)
        defer { chunk.deallocate() }
        let exitFD = ff_pidfd_open(pid)
        defer { if exitFD >= 0 { close(exitFD) } }
        var pipeOpen = true
        var status: Int32?
        var drainDeadline = ContinuousClock.now

        /// The step's process ended: what it left in its group goes too, and the pipe is read
        /// for a little longer.
        func exited(_ waitStatus: Int32) {
            status = waitStatus
            drainDeadline = ContinuousClock.now + drainAfterExit
        }

        while true {
            if status != nil, !pipeOpen || ContinuousClock.now >= drainDeadline { break }
            if status == nil, !pipeOpen, exitFD < 0 {
                // It closed its output and runs on, and there is no pidfd to poll: wait.
                let raw = ChildProcess.waitForExit(pid)
                kill(-pid, SIGKILL)
                exited(raw)
                continue
            }
            var fds: [pollfd] = []
            if pipeOpen { fds.append(pollfd(fd: output, events: Int16(POLLIN), revents: 0)) }
            if status == nil, exitFD >= 0 { fds.append(pollfd(fd: exitFD, events: Int16(POLLIN), revents: 0)) }
            let timeout: Int32
            if status != nil {
                timeout = Int32(max(1, ((drainDeadline - ContinuousClock.now) / .milliseconds(1)).rounded(.up)))
            } else {
                // Without a pidfd (a kernel before 5.3) the exit is looked for every 50 ms.
                timeout = exitFD >= 0 ? -1 : 50
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if pipeOpen, fds[0].revents != 0 {
                let count = read(output, chunk.baseAddress, chunk.count)
                if count > 0 {
                    append(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
                } else if count == 0 || errno != EINTR {
                    pipeOpen = false
                }
            }
            guard status == nil else { continue }
            if exitFD >= 0 {
                guard let last = fds.last, last.fd == exitFD, last.revents != 0 else { continue }
                // The leader is a zombie until reaped, so its group id cannot be taken meanwhile.
                kill(-pid, SIGKILL)
                exited(ChildProcess.waitForExit(pid))
            } else {
                var raw: Int32 = 0
                guard waitpid(pid, &raw, WNOHANG) == pid else { continue }
                kill(-pid, SIGKILL)
                exited(raw)
            }
        }
        return status ?? ChildProcess.waitForExit(pid)
    }
}

/// The last `capacity` bytes of a stream, and how many bytes it had in all.
struct TailBuffer {
    private var storage: [UInt8]
    private var start = 0
    private(set) var total = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        storage = []
        storage.reserveCapacity(capacity)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        total += bytes.count
        var bytes = bytes
        if bytes.count >= capacity {
            bytes = UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - capacity)...])
            storage.removeAll(keepingCapacity: true)
            storage.append(contentsOf: bytes)
            start = 0
            return
        }
        let room = capacity - storage.count
        if room > 0 {
            let taken = min(room, bytes.count)
            storage.append(contentsOf: bytes[..<taken])
            bytes = UnsafeRawBufferPointer(rebasing: bytes[taken...])
        }
        guard !bytes.isEmpty else { return }
        // Full: the new bytes overwrite the oldest, in at most two copies.
        storage.withUnsafeMutableBytes { ring in
            let first = min(bytes.count, capacity - start)
            UnsafeMutableRawBufferPointer(rebasing: ring[start..<(start + first)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<first]))
            let rest = bytes.count - first
            if rest > 0 {
                UnsafeMutableRawBufferPointer(rebasing: ring[..<rest]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[first...]))
            }
        }
        start = (start + bytes.count) % capacity
    }

    /// The bytes kept, oldest first.
    var bytes: [UInt8] { Array(storage[start...] + storage[..<start]) }

    var output: StepOutput {
        let kept = bytes
        let cut = total > kept.count ? "[… output truncated to the last \(capacity / 1024) KiB of \(total) bytes]" : nil
        return StepOutput(kept: kept, totalBytes: total, cutNote: cut)
    }
}
