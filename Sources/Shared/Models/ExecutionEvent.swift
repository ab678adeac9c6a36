import Foundation

/// The event behind an event run, as the run's detail shows it.
public enum ExecutionEvent: Sendable, Equatable {
    /// A webhook delivery: its JSON when it was JSON and small enough to show, and its size.
    case payload(json: JSONValue?, bytes: Int64?)
    /// An arrived file: its path, and its size and modification time when they were read.
    case file(path: String, size: Int64?, modifiedAt: Date?)
}
