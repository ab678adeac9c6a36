import Foundation
import PostgresNIO

extension ScheduleOptions {
    /// The columns of `workflow_triggers` (aliased `t`) that hold a trigger's schedule options,
    /// for a SELECT list; `init(row:)` reads them back.
    public static func columns(_ t: String) -> String {
        "\(t).jitter_seconds, \(t).active_from, \(t).active_until, \(t).dst_gap, \(t).dst_overlap"
    }

    public init(row: PostgresRandomAccessRow) throws {
        let gap = (try row.column("dst_gap", as: String?.self)).flatMap(DSTPolicy.Gap.init)
        let overlap = (try row.column("dst_overlap", as: String?.self)).flatMap(DSTPolicy.Overlap.init)
        self.init(
            jitterSeconds: try row.column("jitter_seconds"),
            activeFrom: try row.column("active_from"),
            activeUntil: try row.column("active_until"),
            dstPolicy: DSTPolicy(gap: gap, overlap: overlap))
    }
}
