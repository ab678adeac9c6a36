/// Values stored as text in PostgreSQL and spoken as-is by the API.
public enum OverlapPolicy: String, Sendable, CaseIterable, Codable {
    case allow, queue, skip
}

public enum TriggerType: String, Sendable, CaseIterable, Codable {
    case scheduled, dependency, event
}

/// What started an execution: a stored trigger's type, or a person pressing "Run now".
public enum ExecutionTriggerType: String, Sendable, CaseIterable, Codable {
    case manual, scheduled, dependency, event
}

public enum ExecutionStatus: String, Sendable, CaseIterable, Codable {
    case queued, running, completed, failed, cancelled, skipped

    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .completed, .failed, .cancelled, .skipped: true
        }
    }
}

public enum MisfirePolicy: String, Sendable, CaseIterable, Codable {
    case skip
    case runOnce = "run_once"
    case runAll = "run_all"
}

public enum DependencyCondition: String, Sendable, CaseIterable, Codable {
    case onSuccess = "on_success"
    case onFailure = "on_failure"
    case onCompletion = "on_completion"

    /// How the condition reads in a sentence: "After extract succeeds".
    public var verb: String {
        switch self {
        case .onSuccess: "succeeds"
        case .onFailure: "fails"
        case .onCompletion: "finishes"
        }
    }

    /// The same for a join's several upstreams: "After extract and load succeed".
    public var pluralVerb: String {
        switch self {
        case .onSuccess: "succeed"
        case .onFailure: "fail"
        case .onCompletion: "finish"
        }
    }
}

public enum EventType: String, Sendable, CaseIterable, Codable {
    case webhook
    case fileArrival = "file_arrival"
}

public enum StepKind: String, Sendable, CaseIterable, Codable {
    case shell, http, noop
}

extension CaseIterable where Self: RawRepresentable, RawValue == String {
    /// "allow, queue or skip", for error sentences.
    public static var choices: String {
        let names = allCases.map(\.rawValue)
        guard names.count > 1 else { return names.joined() }
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}
