import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// Watches the folders of file-arrival triggers: every `fileScanInterval` it lists each folder, and
/// each matching file that is new to the database (by path, size and modification time), and
/// quiet for the trigger's `min_quiet_seconds`, starts one run. Every scheduler replica
/// watches; the database's primary key lets one of them record a file, and only its run
/// exists. A file that arrived while no scheduler ran is found at the next listing.
///
/// The list of file-arrival triggers is read again only when a trigger changes
/// (`NotificationChannel.triggersChanged`) and every `fileTriggersRefresh` in case a notification
/// was lost, not at every scan: read at every scan, that query was a tenth of all the CPU an
/// idle stack used. A notification does not start a scan early; the next scan reads the list.
struct FileArrivalWatcher: Sendable {
    let parts: SchedulerParts

    func run() async {
        let store = parts.events, logger = parts.logger, refreshInterval = parts.config.fileTriggersRefresh
        // Files this process knows the database has (so they are not sent again every scan),
        // per trigger. Only a shortcut: the database decides.
        var known: [Int64: Set<EventStore.SeenFile>] = [:]
        var triggers: [EventStore.FileTrigger] = []
        var loadedAt: ContinuousClock.Instant?
        let loop = BackgroundLoop.Config(
            interval: parts.config.fileScanInterval, listen: [.triggersChanged], notificationEndsWait: false,
            failure: "file-arrival scan failed")
        await BackgroundLoop(config: loop, notifications: parts.notifications, logger: logger).run { changed in
            if changed.take() || loadedAt.map({ ContinuousClock.now - $0 >= refreshInterval }) ?? true {
                do {
                    triggers = try await backgroundCall { try await store.fileTriggers() }
                    loadedAt = .now
                } catch {
                    changed.set()  // read it again next time
                    throw error
                }
            }
            known = known.filter { id, _ in triggers.contains { $0.id == id } }
            for trigger in triggers {
                let now = Date()
                let (files, problem) = Self.list(trigger.config)
                if let problem {
                    logger.warning("cannot watch a folder", metadata: ["trigger_id": "\(trigger.id)", "problem": "\(problem)"])
                    continue
                }
                let quietBefore = Int64((now.timeIntervalSince1970 - Double(trigger.config.minQuietSeconds)) * 1_000_000)
                let since = trigger.since.map { Int64(($0.timeIntervalSince1970 * 1_000_000).rounded(.down)) }
                var seen = known[trigger.id] ?? []
                // Forget files that are gone, so the set stays the size of the folder.
                seen.formIntersection(files)
                let candidates = files.filter { file in
                    !seen.contains(file) && file.mtimeMicroseconds <= quietBefore && since.map { file.mtimeMicroseconds >= $0 } ?? true
                }
                for batch in stride(from: 0, to: candidates.count, by: 500).map({ Array(candidates[$0..<min($0 + 500, candidates.count)]) }) {
                    let started = try await backgroundCall { try await store.recordArrivals(triggerId: trigger.id, files: batch) }
                    if !started.isEmpty {
                        logger.info("files arrived", metadata: ["trigger_id": "\(trigger.id)", "runs": "\(started.count)"])
                    }
                    seen.formUnion(batch)
                }
                known[trigger.id] = seen
            }
            return nil
        }
    }

    /// The regular files in the folder whose names match the pattern, or why the folder
    /// cannot be read.
    static func list(_ config: FileArrivalConfig) -> ([EventStore.SeenFile], String?) {
        guard let directory = opendir(config.directory) else {
            return ([], "\(config.directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var files: [EventStore.SeenFile] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            guard name != ".", name != "..", fnmatch(config.pattern, name, FNM_PERIOD) == 0 else { continue }
            let path = config.directory == "/" ? "/" + name : config.directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec) / 1_000
            files.append(EventStore.SeenFile(path: path, size: Int64(info.st_size), mtimeMicroseconds: mtime))
        }
        return (files, nil)
    }
}
