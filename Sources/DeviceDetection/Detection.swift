/// Matomo's device types, by Matomo's names.
public enum DeviceKind: String, Sendable, CaseIterable {
    case desktop
    case smartphone
    case tablet
    case featurePhone = "feature phone"
    case console
    case tv
    case carBrowser = "car browser"
    case smartDisplay = "smart display"
    case camera
    case portableMediaPlayer = "portable media player"
    case phablet
    case smartSpeaker = "smart speaker"
    case wearable
    case peripheral
}

/// What device-detector concludes about one user agent (and its client hints).
public struct DeviceDetection: Sendable, Equatable {
    public struct Bot: Sendable, Equatable {
        public var name: String
        /// device-detector's category ("Search bot", "Crawler", "AI Assistant"…), when it gives one.
        public var category: String?
    }

    public var bot: Bot?
    public var osName: String?
    public var osVersion: String?
    public var osFamily: String?
    /// "browser", "mobile app", "library", "mediaplayer", "feed reader", "pim".
    public var clientType: String?
    public var clientName: String?
    public var clientVersion: String?
    /// For browsers: the family device-detector assigns ("Chrome", "Firefox", "Safari"…).
    public var browserFamily: String?
    public var device: DeviceKind?
    public var brand: String?
    public var model: String?

    public init() {}
}

/// User-Agent Client Hints as device-detector reads them: `Sec-CH-UA*` headers and `X-Requested-With`, or
/// the same values from Matomo's `uadata` parameter.
public struct DetectionHints: Sendable, Equatable {
    public struct Brand: Sendable, Equatable {
        public var name: String
        public var version: String
        public init(name: String, version: String) { self.name = name; self.version = version }
    }

    /// The full version list when sent, else the brand list.
    public var brands: [Brand] = []
    public var fullVersion = ""
    public var platform = ""
    public var platformVersion = ""
    public var mobile = false
    public var model = ""
    /// The Android app id from `X-Requested-With` (not `XMLHttpRequest`).
    public var app = ""
    public var formFactors: [String] = []

    public init() {}

    /// From request headers by any case, with or without an `http-` prefix, as device-detector's factory.
    public init(headers: [String: String]) {
        var fullVersionList: [Brand] = []
        var brandList: [Brand] = []
        for (rawName, value) in headers where !value.isEmpty {
            var name = rawName.lowercased().replacingOccurrences(of: "_", with: "-")
            if name.hasPrefix("http-") { name.removeFirst(5) }
            let unquoted = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            switch name {
            case "sec-ch-ua-mobile": mobile = value == "?1" || value == "1"
            case "sec-ch-ua-model": model = unquoted
            case "sec-ch-ua-full-version": fullVersion = unquoted
            case "sec-ch-ua-platform": platform = unquoted
            case "sec-ch-ua-platform-version": platformVersion = unquoted
            case "sec-ch-ua": brandList = Self.brandList(value)
            case "sec-ch-ua-full-version-list": fullVersionList = Self.brandList(value)
            case "x-requested-with": if value.lowercased() != "xmlhttprequest" { app = value }
            case "sec-ch-ua-form-factors", "sec-ch-ua-form-factor":
                formFactors = value.lowercased().split(separator: ",").map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
                }
            default: break
            }
        }
        brands = fullVersionList.isEmpty ? brandList : fullVersionList
    }

    public var isEmpty: Bool { self == DetectionHints() }

    /// `"Chromium";v="124", "Google Chrome";v="124"` → brands (device-detector reads quoted pairs in order).
    static func brandList(_ text: String) -> [Brand] {
        text.split(separator: ",").compactMap { member in
            let parts = member.split(separator: ";", maxSplits: 1)
            guard let first = parts.first else { return nil }
            let name = first.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard !name.isEmpty else { return nil }
            var version = ""
            if parts.count == 2 {
                let rest = parts[1].trimmingCharacters(in: .whitespaces)
                if rest.hasPrefix("v=") { version = String(rest.dropFirst(2)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            }
            return Brand(name: name, version: version)
        }
    }
}

import Foundation
