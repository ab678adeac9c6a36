/// Why a cron expression or time zone was rejected, as one sentence that names the field.
///
/// The API returns `message` unchanged as `{"error": …}`, so it is written for the person who
/// typed the expression: "minute: 61 is outside 0-59", "never fires: February has no day 30".
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
