/// What device-detector's algorithm knows beside its regex files: which family a client or OS name belongs
/// to, which OS families are desktop ones, and how client-hint brand names map to its names.
enum DetectorTables {
    struct Entry: Sendable {
        let name: String
        let family: String?
        let mobileOnly: Bool

        init(_ name: String, _ family: String?, mobileOnly: Bool = false) {
            self.name = name
            self.family = family
            self.mobileOnly = mobileOnly
        }
    }

    static let browserByName: [String: Entry] = Dictionary(browsers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    static let browserByLowercasedName: [String: Entry] = Dictionary(browsers.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
    static let osByName: [String: Entry] = Dictionary(operatingSystems.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    static let osByLowercasedName: [String: Entry] = Dictionary(operatingSystems.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })

    static func browserFamily(_ name: String) -> String? { browserByName[name]?.family }
    static func osFamily(_ name: String) -> String? { osByName[name]?.family }

    /// OS families only desktops run.
    static let desktopOSFamilies: Set<String> = [
        "AmigaOS", "IBM", "GNU/Linux", "Mac", "Unix", "Windows", "BeOS", "Chrome OS", "OpenVMS",
    ]

    /// Client-hint brand → device-detector browser name.
    static let browserHintNames: [String: String] = [
        "google chrome": "Chrome", "android webview": "Chrome Webview", "duckduckgo": "DuckDuckGo Privacy Browser",
        "microsoft edge webview2": "Edge WebView", "miui browser": "Mi Browser", "xiaomibrowser": "Mi Browser",
        "edge": "Microsoft Edge", "norton secure browser": "Norton Private Browser", "opera gx android": "Opera GX",
        "opera mini android": "Opera Mini", "puffin": "Puffin Cloud Browser", "vewd core": "Vewd Browser",
        "yasearchbrowser": "Yandex Browser",
    ]

    /// Client-hint platform → device-detector OS name.
    static let osHintNames: [String: String] = [
        "linux": "GNU/Linux", "macos": "Mac", "mac os x": "Mac", "macintel": "Mac", "cloud phone 2.4": "Puffin OS",
        "win32": "Windows",
    ]

    /// Browsers that only television sets run.
    static let televisionClients: Set<String> = [
        "Kylo", "Espial TV Browser", "LUJO TV Browser", "LogicUI TV Browser", "Open TV Browser", "Seraphic Sraf",
        "Opera Devices", "Crow Browser", "Vewd Browser", "TiviMate", "Quick Search TV", "QJY TV Browser", "TV Bro",
        "Redline", "Odin",
    ]

    static let appleOSNames: Set<String> = ["iPadOS", "tvOS", "watchOS", "iOS", "Mac"]

    /// Client-hint form factors → device type, in order of precedence.
    static let formFactors: [(String, DeviceKind)] = [
        ("automotive", .carBrowser), ("xr", .wearable), ("watch", .wearable), ("mobile", .smartphone),
        ("tablet", .tablet), ("desktop", .desktop), ("eink", .tablet),
    ]
}
