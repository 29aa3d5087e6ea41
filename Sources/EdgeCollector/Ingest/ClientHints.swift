import DeviceDetection
import Foundation

/// User-Agent Client Hints: what Chromium browsers say about themselves now that their user agent is
/// reduced (frozen at "Windows NT 10.0" and "Android 10; K"). They come as `Sec-CH-UA*` request headers
/// (with `X-Requested-With` naming the Android app around a WebView), or, from Matomo's JavaScript
/// tracker, as the `uadata` parameter (the JSON of `navigator.userAgentData.getHighEntropyValues`);
/// `uadata` wins, as in Matomo's `getClientHints()`. The device detector uses them as Matomo does.
///
/// Request-scoped like the user agent: only the families and major versions derived from them are stored.
public enum ClientHints {
    /// From request headers by lower-case name; `nil` when the request carries none.
    static func from(headers: [String: String]) -> DetectionHints? {
        let names = ["sec-ch-ua", "sec-ch-ua-full-version-list", "sec-ch-ua-full-version", "sec-ch-ua-platform",
                     "sec-ch-ua-platform-version", "sec-ch-ua-mobile", "sec-ch-ua-model", "sec-ch-ua-form-factors",
                     "x-requested-with"]
        let present = headers.filter { names.contains($0.key) }
        let hints = DetectionHints(headers: present)
        return hints.isEmpty ? nil : hints
    }

    /// From Matomo's `uadata`: `{"brands":[{"brand":…,"version":…}],"fullVersionList":[…],
    /// "mobile":false,"model":"","platform":"Windows","platformVersion":"15.0.0","formFactors":[…]}`.
    static func from(uadata: String) -> DetectionHints? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(uadata.utf8)) as? [String: Any] else { return nil }
        func brands(_ key: String) -> [DetectionHints.Brand] {
            (object[key] as? [[String: Any]] ?? []).compactMap { entry in
                guard let name = entry["brand"] as? String, let version = entry["version"] as? String else { return nil }
                return DetectionHints.Brand(name: name, version: version)
            }
        }
        var hints = DetectionHints()
        let fullVersionList = brands("fullVersionList")
        hints.brands = fullVersionList.isEmpty ? brands("brands") : fullVersionList
        hints.platform = object["platform"] as? String ?? ""
        hints.platformVersion = object["platformVersion"] as? String ?? ""
        hints.mobile = object["mobile"] as? Bool ?? false
        hints.model = object["model"] as? String ?? ""
        hints.fullVersion = object["uaFullVersion"] as? String ?? ""
        hints.formFactors = (object["formFactors"] as? [String] ?? []).map { $0.lowercased() }
        return hints.isEmpty ? nil : hints
    }
}
