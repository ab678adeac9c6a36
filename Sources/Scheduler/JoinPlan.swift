import Foundation

/// A join's rule: a dependency trigger over several upstreams fires once each of them has
/// finished, matching its condition, since the trigger last fired (Airflow's rule for
/// dataset-triggered DAGs). Pure: the cascader locks the join, records the finishes that count
/// in `join_pending` in the order it takes them, hands them all to `JoinPlan.firings`, and
/// writes what comes back in the same transaction.
///
/// The finishes are walked in that order. Each joins the firing being gathered; the moment the
/// gathered finishes cover every upstream, that firing is complete, and the next finish starts
/// a new one. So an upstream that finishes twice while another has not finished at all counts
/// both times in one firing, and a batch holding two rounds of finishes fires twice.
struct JoinPlan: Equatable, Sendable {
    /// One upstream run that counted for a join.
    struct Finish: Equatable, Sendable {
        /// Its place in the order the cascader took the join's finishes (`join_pending.seq`).
        var seq: Int64
        var upstreamWorkflowId: Int64
        var executionId: Int64
        var finishedAt: Date
    }

    /// The finishes one run of the join waited for, in the order they counted.
    struct Firing: Equatable, Sendable {
        var finishes: [Finish]
        /// The finish that completed it: the run records it as its `upstream_execution_id`.
        var completing: Finish { finishes[finishes.count - 1] }
        /// When the last of its upstreams finished; its run comes due after the delay from there.
        var finishedAt: Date { finishes.map(\.finishedAt).max()! }
    }

    /// The firings, in order.
    var firings: [Firing]
    /// The finishes that do not yet cover every upstream: they wait for the next call.
    var waiting: [Finish]

    /// The firings of a join over `upstreams` from its pending finishes, given in `seq` order.
    init(pending: [Finish], upstreams: Set<Int64>) {
        firings = []
        var gathered: [Finish] = []
        var covered: Set<Int64> = []
        for finish in pending {
            gathered.append(finish)
            covered.insert(finish.upstreamWorkflowId)
            if !upstreams.isEmpty && upstreams.isSubset(of: covered) {
                firings.append(Firing(finishes: gathered))
                gathered = []
                covered = []
            }
        }
        waiting = gathered
    }
}
