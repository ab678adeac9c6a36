import Synchronization

/// A boolean set from one task (a shutdown handler, a notification, a signal) and read or taken
/// from another.
public final class AtomicFlag: Sendable {
    private let value = Atomic(false)

    public init() {}

    public var isSet: Bool { value.load(ordering: .acquiring) }

    /// Sets it; true when it was not set before (so one caller of several acts on it).
    @discardableResult
    public func set() -> Bool {
        !value.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// Whether it was set since the last `take`; clears it.
    public func take() -> Bool {
        value.exchange(false, ordering: .acquiringAndReleasing)
    }
}
