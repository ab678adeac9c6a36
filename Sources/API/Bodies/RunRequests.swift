import FlowForgeShared

/// `POST /api/workflows/:id/run` and `POST /api/executions/:id/rerun` (`RunRequest`), whose
/// body is optional: the run's parameters (`RunParams`).
struct RunRequest: RequestBody {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case params
    }

    static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// The body gave `params` (a rerun then uses them in place of the original's).
    var paramsGiven = false
    /// nil for none (`{}`, `null` or not given).
    var params: JSONValue?

    init() {}

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        guard let params = try fields.json(.params) else { return }
        paramsGiven = true
        self.params = try RunParams.check(params, name: fields.fieldName(.params))
    }
}
