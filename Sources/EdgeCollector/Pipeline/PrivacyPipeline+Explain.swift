import Foundation
import TallyCore

extension PrivacyPipeline.Result {
    /// The text `tally-edge explain` prints: each step's decision, then the exact record that would be
    /// stored (or why nothing would be).
    public func explanation() -> String {
        var out = ""
        for (index, entry) in trace.enumerated() {
            let number = index + 1 < 10 ? " \(index + 1)" : "\(index + 1)"
            switch entry.decision {
            case let .pass(note):
                out += "\(number). \(entry.step.rawValue): pass — \(note)\n"
            case let .drop(reason, note):
                out += "\(number). \(entry.step.rawValue): DROP (\(reason)) — \(note)\n"
            }
        }
        switch outcome {
        case let .drop(reason):
            out += "\nNothing would be stored (\(reason)).\n"
        case let .store(hit):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let json = (try? encoder.encode(hit)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            out += "\nStored record (policy \(policyDigest?.description ?? "unknown")):\n\(json)\n"
        }
        return out
    }
}
