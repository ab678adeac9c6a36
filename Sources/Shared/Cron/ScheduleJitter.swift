import Crypto

/// How far a trigger's jitter moves one of its runs: the same for every process that asks, on
/// every host and in every release, because it is computed from the trigger and the time alone
/// (Swift's `Hasher` is seeded per process and would give each scheduler replica its own answer).
///
/// The amount is the first 8 bytes of SHA-256 over the trigger id and the run's unmoved time
/// (each a big-endian 64-bit integer: the id, then the epoch second) read as a big-endian
/// unsigned number, modulo `bound + 1`. `bound` is the trigger's `jitter_seconds`, cut to the
/// time before the schedule's next unmoved time less a second, so that runs keep their order
/// and no two share a time (the unique key on trigger and `scheduled_for` would drop one).
public enum ScheduleJitter {
    /// Seconds in [0, bound] to move the run of `triggerId` whose unmoved time is `slot`
    /// (epoch seconds).
    public static func seconds(triggerId: Int64, slot: Int64, bound: Int) -> Int {
        guard bound > 0 else { return 0 }
        var input = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            input[index] = UInt8(truncatingIfNeeded: UInt64(bitPattern: triggerId) >> UInt64(56 - 8 * index))
            input[8 + index] = UInt8(truncatingIfNeeded: UInt64(bitPattern: slot) >> UInt64(56 - 8 * index))
        }
        var value: UInt64 = 0
        for (index, byte) in SHA256.hash(data: input).enumerated() where index < 8 {
            value = value << 8 | UInt64(byte)
        }
        return Int(value % UInt64(bound + 1))
    }

    /// The largest move a run at `slot` may get when the schedule's next unmoved time is
    /// `following` (nil: none).
    static func bound(jitterSeconds: Int, slot: Int64, following: Int64?) -> Int {
        guard let following else { return jitterSeconds }
        return Int(max(0, min(Int64(jitterSeconds), following - slot - 1)))
    }
}
