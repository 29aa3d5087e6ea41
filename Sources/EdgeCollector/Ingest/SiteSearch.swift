import Foundation
import TallyCore

/// Matomo's site search detection from the page URL: a pageview whose query string carries one of the site's keyword parameters is a site search for that keyword, in
/// the category of the first category parameter present. The parameters are removed from the page URL,
/// as Matomo removes them (plugins/Actions/Actions/ActionSiteSearch.php).
public struct SiteSearchSettings: Sendable, Equatable {
    /// Matomo's defaults for a new site.
    public static let defaultKeywordParameters = ["q", "query", "s", "search", "searchword", "k", "keyword"]

    public var enabled = true
    /// Lower-cased parameter names, matched case-insensitively, in order of preference.
    public var keywordParameters = defaultKeywordParameters
    public var categoryParameters: [String] = []

    public init() {}

    struct Detection: Equatable {
        var keyword: String
        var category: String?
        /// The page with the keyword and category parameters removed.
        var page: WebAddress
    }

    /// The search a page address carries, if any.
    func detect(in page: WebAddress) -> Detection? {
        guard enabled, let query = page.query else { return nil }
        let pairs = query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { item in
            let equals = item.firstIndex(of: UInt8(ascii: "="))
            let name = Self.decoded(item[..<(equals ?? item.endIndex)]).lowercased()
            return (name: name, value: Self.decoded(equals.map { item[($0 + 1)...] } ?? []), raw: item)
        }
        func firstValue(_ names: [String]) -> (name: String, value: String)? {
            for name in names {
                if let pair = pairs.first(where: { $0.name == name && !$0.value.isEmpty }) { return (name, pair.value) }
            }
            return nil
        }
        guard let keyword = firstValue(keywordParameters) else { return nil }
        let category = firstValue(categoryParameters)
        let removed: Set<String> = [keyword.name, category?.name].compactMap { $0 }.reduce(into: []) { $0.insert($1) }
        var kept: [UInt8] = []
        for pair in pairs where !removed.contains(pair.name) {
            if !kept.isEmpty { kept.append(UInt8(ascii: "&")) }
            kept.append(contentsOf: pair.raw)
        }
        var stripped = page
        stripped.query = kept.isEmpty ? nil : kept[...]
        return Detection(keyword: keyword.value, category: category?.value, page: stripped)
    }

    /// A query component as PHP's `urldecode` reads it (`+` is a space), trimmed.
    private static func decoded(_ raw: ArraySlice<UInt8>) -> String {
        let spaced = raw.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }[...]
        let text = WebAddress.percentDecoded(spaced) ?? String(decoding: spaced, as: UTF8.self)
        return (TextCleaning.removingControlCharacters(text) ?? text).trimmingCharacters(in: .whitespaces)
    }
}
