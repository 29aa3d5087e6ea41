import Foundation

/// User-Agent Client Hints: what Chromium browsers say about themselves now that their user agent is
/// reduced (frozen at "Windows NT 10.0" and "Android 10; K"). They come as `Sec-CH-UA*` request headers,
/// or, from Matomo's JavaScript tracker, as the `uadata` parameter (the JSON of
/// `navigator.userAgentData.getHighEntropyValues`); `uadata` wins, as in Matomo's `getClientHints()`.
///
/// Request-scoped like the user agent: only the families and major versions derived from them are stored.
public struct ClientHints: Sendable, Equatable {
    public struct Brand: Sendable, Equatable {
        public var name: String
        public var version: String
    }

    public var brands: [Brand] = []
    public var fullVersionList: [Brand] = []
    public var platform: String?
    public var platformVersion: String?
    public var mobile: Bool?
    public var model: String?

    public init() {}

    var isEmpty: Bool { self == ClientHints() }

    /// From `Sec-CH-UA`, `Sec-CH-UA-Full-Version-List`, `-Platform`, `-Platform-Version`, `-Mobile`,
    /// `-Model` (structured-field lists and strings, RFC 8941), by lower-case name.
    static func from(headers: [String: String]) -> ClientHints? {
        var hints = ClientHints()
        hints.brands = headers["sec-ch-ua"].map(brandList) ?? []
        hints.fullVersionList = headers["sec-ch-ua-full-version-list"].map(brandList) ?? []
        hints.platform = headers["sec-ch-ua-platform"].flatMap(unquoted)
        hints.platformVersion = headers["sec-ch-ua-platform-version"].flatMap(unquoted)
        hints.mobile = headers["sec-ch-ua-mobile"].flatMap { ["?1": true, "?0": false][$0.trimmingCharacters(in: .whitespaces)] }
        hints.model = headers["sec-ch-ua-model"].flatMap(unquoted)
        return hints.isEmpty ? nil : hints
    }

    /// From Matomo's `uadata`: `{"brands":[{"brand":…,"version":…}],"fullVersionList":[…],
    /// "mobile":false,"model":"","platform":"Windows","platformVersion":"15.0.0"}`.
    static func from(uadata: String) -> ClientHints? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(uadata.utf8)) as? [String: Any] else { return nil }
        func brands(_ key: String) -> [Brand] {
            (object[key] as? [[String: Any]] ?? []).compactMap { entry in
                guard let name = entry["brand"] as? String, let version = entry["version"] as? String else { return nil }
                return Brand(name: name, version: version)
            }
        }
        var hints = ClientHints()
        hints.brands = brands("brands")
        hints.fullVersionList = brands("fullVersionList")
        hints.platform = (object["platform"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        hints.platformVersion = (object["platformVersion"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        hints.mobile = object["mobile"] as? Bool
        hints.model = (object["model"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return hints.isEmpty ? nil : hints
    }

    /// `"Chromium";v="124", "Google Chrome";v="124"` → brands.
    private static func brandList(_ text: String) -> [Brand] {
        text.split(separator: ",").compactMap { member in
            let parts = member.split(separator: ";")
            guard let name = parts.first.flatMap({ unquoted(String($0)) }) else { return nil }
            let version = parts.dropFirst().first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("v=") }
                .flatMap { unquoted(String($0.trimmingCharacters(in: .whitespaces).dropFirst(2))) } ?? ""
            return Brand(name: name, version: version)
        }
    }

    private static func unquoted(_ text: String) -> String? {
        var value = text.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
        return value.isEmpty ? nil : value
    }

    /// Chromium's brand names, and the placeholder brands ("Not A;Brand", "Not-A.Brand") it adds.
    private static let browserNames = ["Google Chrome": "Chrome", "Microsoft Edge": "Edge", "Opera": "Opera", "Brave": "Brave",
                                       "Vivaldi": "Vivaldi", "Yandex": "Yandex Browser", "Samsung Internet": "Samsung Internet"]

    /// The summary with what the hints know better: the OS version behind a reduced user agent
    /// (Windows 11 is platform version 13 or later, Android's real version), a browser the user agent
    /// does not name, and a mobile device.
    func refine(_ summary: UserAgentSummary) -> UserAgentSummary {
        var refined = summary
        let major = platformVersion?.split(separator: ".").first.flatMap { Int($0) }
        switch platform {
        case "Windows":
            if refined.os == nil || refined.os == "Windows", let major, major > 0 {
                refined.os = "Windows"
                refined.osVersion = major >= 13 ? "11" : "10"
            }
        case "Android", "macOS":
            if refined.os == nil || refined.os == platform, let major, major > 0 {
                refined.os = platform
                refined.osVersion = String(major)
            }
        default:
            break
        }
        if refined.browser == nil {
            let list = fullVersionList.isEmpty ? brands : fullVersionList
            if let brand = list.first(where: { Self.browserNames[$0.name] != nil }) ?? list.first(where: { $0.name == "Chromium" }) {
                refined.browser = Self.browserNames[brand.name] ?? "Chromium"
                refined.browserVersion = brand.version.split(separator: ".").first.map(String.init)
            }
        }
        if mobile == true, refined.device == .desktop || refined.device == .other { refined.device = .mobile }
        return refined
    }
}
