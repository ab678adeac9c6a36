import FlowForgeShared
import Logging

/// Maintenance: requeues (or fails) runs whose worker stopped renewing its lease.
struct LeaseRescuer: Sendable {
    var interval: Duration = .seconds(5)
    let store: SchedulerStore
    let logger: Logger

    func run() async {
        while !Task.isCancelled {
            do {
                let (requeued, failed) = try await store.rescueExpiredLeases()
                if requeued + failed > 0 {
                    logger.notice("rescued runs of lost workers", metadata: ["requeued": "\(requeued)", "failed": "\(failed)"])
                }
            } catch {
                logger.warning("lease rescue failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
