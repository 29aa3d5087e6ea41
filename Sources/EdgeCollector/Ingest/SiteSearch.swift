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

    /// The search a page address carries, if any. It runs for every pageview with a query string, so
    /// names are compared as bytes (ASCII case-insensitively) and only a matching value is decoded.
    func detect(in page: WebAddress) -> Detection? {
        guard enabled, let query = page.query else { return nil }
        let items = query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true)
        func rawName(_ item: ArraySlice<UInt8>) -> ArraySlice<UInt8> { item[..<(item.firstIndex(of: UInt8(ascii: "=")) ?? item.endIndex)] }
        func matches(_ item: ArraySlice<UInt8>, _ name: String) -> Bool {
            let raw = rawName(item)
            if raw.contains(UInt8(ascii: "%")) || raw.contains(UInt8(ascii: "+")) { return Self.decoded(raw).lowercased() == name }
            return raw.count == name.utf8.count && zip(raw, name.utf8).allSatisfy { ASCII.lowercased($0) == $1 }
        }
        func firstValue(_ names: [String]) -> (name: String, value: String)? {
            for name in names {
                for item in items where matches(item, name) {
                    let value = Self.decoded(item.firstIndex(of: UInt8(ascii: "=")).map { item[($0 + 1)...] } ?? [])
                    if !value.isEmpty { return (name, value) }
                }
            }
            return nil
        }
        guard let keyword = firstValue(keywordParameters) else { return nil }
        let category = firstValue(categoryParameters)
        var kept: [UInt8] = []
        for item in items where !matches(item, keyword.name) && !(category.map { matches(item, $0.name) } ?? false) {
            if !kept.isEmpty { kept.append(UInt8(ascii: "&")) }
            kept.append(contentsOf: item)
        }
        var stripped = page
        stripped.query = kept.isEmpty ? nil : kept[...]
        return Detection(keyword: keyword.value, category: category?.value, page: stripped)
    }

    /// A query component as PHP's `urldecode` reads it (`+` is a space), trimmed.
    private static func decoded(_ raw: ArraySlice<UInt8>) -> String {
        let spaced = raw.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }[...]
        let text = WebAddress.percentDecoded(spaced) ?? String(decoding: spaced, as: UTF8.self)
        let cleaned = TextCleaning.removingControlCharacters(text) ?? text
        let scalars = cleaned.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
