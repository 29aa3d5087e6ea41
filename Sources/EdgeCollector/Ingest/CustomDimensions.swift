import TrackingInput
import Foundation
import TallyCore

/// A custom dimension a site declares (`[[sites.dimensions]]`): Matomo's `dimensionN` parameters, and its
/// older custom variables (`_cvar` for the visit, `cvar` for the page) whose name is the dimension's.
/// Values of undeclared dimensions are left out and counted (`undeclared_dimension`): nothing is stored
/// that the site's data inventory does not list.
public struct CustomDimension: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable { case visit, action }

    public var id: Int
    public var name: String
    public var scope: Scope

    public init(id: Int, name: String, scope: Scope) {
        self.id = id
        self.name = name
        self.scope = scope
    }

    /// The record's key: `visit.1`, `action.3`.
    var key: String { "\(scope.rawValue).\(id)" }

    /// The declared dimensions' values in a request, keyed as the record keeps them; repairs noted.
    static func values(in p: QueryParameters, declared: [CustomDimension], repairs: inout [InputRepair]) -> [String: String] {
        var values: [String: String] = [:]
        for (name, value) in p.parameters(withNamePrefix: "dimension") {
            guard let id = Int(name.dropFirst("dimension".count)) else { continue }
            guard let dimension = declared.first(where: { $0.id == id }) else {
                repairs.note(.undeclaredDimension)
                continue
            }
            let trimmed = TextCleaning.trimmingSpaces(value)
            if !trimmed.isEmpty { values[dimension.key] = trimmed }
        }
        for (parameter, scope) in [("_cvar", Scope.visit), ("cvar", Scope.action)] {
            guard let text = p[parameter], !text.isEmpty else { continue }
            guard let slots = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                repairs.note(.unusableValue)
                continue
            }
            for (_, slot) in slots {
                guard let pair = slot as? [Any], pair.count == 2, let name = pair[0] as? String else { continue }
                let value = (pair[1] as? String) ?? (pair[1] as? NSNumber)?.stringValue ?? ""
                guard let dimension = declared.first(where: { $0.name == name && $0.scope == scope }) else {
                    repairs.note(.undeclaredDimension)
                    continue
                }
                if values[dimension.key] == nil, !value.isEmpty { values[dimension.key] = value }
            }
        }
        return values
    }

    /// Canonical JSON of the values (sorted keys), as the record's `dims`.
    static func encoded(_ values: [String: String]) -> String? {
        guard !values.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(values)).map { String(decoding: $0, as: UTF8.self) }
    }
}
