import Foundation

/// Matomo's device-detector algorithm over its database: bot first (a bot ends detection), then operating
/// system, client (feed reader, mobile app, media player, PIM, browser, library — the first that
/// recognises the user agent), then device type and brand, with the same client-hint rules and
/// device-type fallbacks as the reference implementation.
///
/// Thread-safe and stateless between calls; callers cache by user agent.
public struct DeviceDetector: Sendable {
    public let database: DeviceDatabase

    /// Longer user agents are cut here before matching: real ones are a few hundred characters, and a
    /// pathological 100 KB header must not cost seconds of backtracking.
    public static let maximumLength = 1_024

    public init(database: DeviceDatabase) { self.database = database }

    /// The user agent as matched: control characters removed, cut at `maximumLength` scalars.
    static func prepared(_ userAgent: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in userAgent.unicodeScalars.prefix(maximumLength) where scalar.value >= 0x20 && scalar.value != 0x7F {
            scalars.append(scalar)
        }
        return String(scalars)
    }

    public func detect(userAgent rawUserAgent: String, hints: DetectionHints? = nil) -> DeviceDetection {
        let hints = hints.flatMap { $0.isEmpty ? nil : $0 }
        let userAgent = Self.prepared(rawUserAgent)
        var result = DeviceDetection()
        if hints == nil, !userAgent.contains(where: { $0.isASCII && $0.isLetter }) { return result }
        let ua = UserAgentText(userAgent, patterns: database.patterns)

        if let bot = detectBot(ua) {
            result.bot = bot
            return result
        }
        // Parsers that use the device model from client hints see it written back into a reduced user agent.
        let restored = hints.map { UserAgentText(restore(userAgent, hints: $0), patterns: database.patterns) } ?? ua
        let os = detectOS(restored, original: ua, hints: hints)
        result.osName = os?.name
        result.osVersion = os?.version
        result.osFamily = os?.family
        if let client = detectClient(ua, hints: hints) {
            result.clientType = client.type
            result.clientName = client.name
            result.clientVersion = client.version
            result.browserFamily = client.family
        }
        detectDevice(ua, restored: restored, hints: hints, into: &result)
        return result
    }

    // MARK: Bots

    func detectBot(_ ua: UserAgentText) -> DeviceDetection.Bot? {
        guard let (bot, match) = database.bots.first(in: ua) else { return nil }
        return DeviceDetection.Bot(name: match.fill(bot.name), category: bot.category)
    }

    // MARK: Operating system

    struct OS { var name: String; var version: String; var family: String? }

    func detectOS(_ ua: UserAgentText, original: UserAgentText, hints: DetectionHints?) -> OS? {
        let fromHints = hints.flatMap(osFromHints)
        let fromAgent = osFromUserAgent(ua)
        var name: String
        var version: String
        if let fromHints, !fromHints.name.isEmpty {
            name = fromHints.name
            version = fromHints.version
            let agentName = fromAgent?.name ?? ""
            let agentVersion = fromAgent?.version ?? ""
            if version.isEmpty, DetectorTables.osFamily(name) == DetectorTables.osFamily(agentName) {
                version = agentVersion
            }
            if name == "Windows", version == "0.0.0" { version = agentVersion == "10" ? "" : agentVersion }
            if name == "Puffin OS" { version = agentVersion }
            if agentName != name, DetectorTables.osFamily(agentName) == name {
                name = agentName
                if name == "LeafOS" || name == "HarmonyOS" { version = "" }
                if name == "PICO OS" { version = agentVersion }
            }
            if name == "GNU/Linux", agentName == "Chrome OS", fromHints.version == agentVersion { name = agentName }
            if name == "Android", agentName == "Chrome OS" {
                name = agentName
                version = ""
            }
            if name == "GNU/Linux", agentName == "Meta Horizon" { name = agentName }
        } else if let fromAgent, !fromAgent.name.isEmpty {
            name = fromAgent.name
            version = fromAgent.version
        } else {
            return nil
        }
        var family = DetectorTables.osFamily(name)
        let androidApps: Set<String> = ["com.hisense.odinbrowser", "com.seraphic.openinet.pre", "com.appssppa.idesktoppcbrowser", "every.browser.inc"]
        if let hints {
            if name != "Android", androidApps.contains(hints.app) {
                name = "Android"
                family = "Android"
                version = ""
            }
            if name != "Lineage OS", hints.app == "org.lineageos.jelly" {
                name = "Lineage OS"
                family = "Android"
                version = ""
            }
            if name != "Fire OS", hints.app == "org.mozilla.tv.firefox" {
                name = "Fire OS"
                family = "Android"
                version = ""
            }
        }
        return OS(name: name, version: version, family: family)
    }

    private func osFromHints(_ hints: DetectionHints) -> OS? {
        guard !hints.platform.isEmpty else { return nil }
        let hintName = DetectorTables.osHintNames[hints.platform.lowercased()] ?? hints.platform
        let key = Self.fuzzyKey(hintName)
        guard let name = DetectorTables.operatingSystems.first(where: { Self.fuzzyKey($0.name) == key })?.name else {
            return OS(name: "", version: "", family: nil)
        }
        var version = hints.platformVersion
        if name == "Windows" {
            let parts = version.split(separator: ".", omittingEmptySubsequences: false)
            let major = parts.first.flatMap { Int($0) } ?? 0
            let minor = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            if major == 0 {
                version = [1: "7", 2: "8", 3: "8.1"][minor] ?? version
            } else if major < 11 {
                version = "10"
            } else {
                version = "11"
            }
        }
        if name != "Windows", version != "0.0.0", Self.leadingInteger(version) == 0 { version = "" }
        return OS(name: name, version: Self.version(version, nil), family: nil)
    }

    private func osFromUserAgent(_ ua: UserAgentText) -> OS? {
        if let (os, match) = database.operatingSystems.first(in: ua) {
            var name = Self.canonicalOSName(match.fill(os.name))
            var version = os.version.map { Self.version($0, match) } ?? ""
            if let (sub, subMatch) = os.versions.first(in: ua) {
                if let subName = sub.name { name = Self.canonicalOSName(subMatch.fill(subName)) }
                if let subVersion = sub.version { version = Self.version(subVersion, subMatch) }
            }
            return OS(name: name, version: version, family: nil)
        }
        return nil
    }

    static func canonicalOSName(_ name: String) -> String {
        DetectorTables.osByLowercasedName[name.lowercased()]?.name ?? name
    }

    // MARK: Clients

    struct Client { var type: String; var name: String; var version: String; var family: String? }

    func detectClient(_ ua: UserAgentText, hints: DetectionHints?) -> Client? {
        for list in database.clients {
            if list.kind == "browser" {
                if let browser = detectBrowser(ua, list: list, hints: hints) { return browser }
                continue
            }
            var name = ""
            var version = ""
            if let (entry, match) = list.entries.first(in: ua) {
                name = match.fill(entry.name)
                version = Self.version(entry.version, match)
            }
            if list.kind == "mobile app", let hints, let app = database.otherApps[hints.app], !app.isEmpty, app != name {
                name = app
                version = ""
            }
            if !name.isEmpty { return Client(type: list.kind, name: name, version: version, family: nil) }
        }
        return nil
    }

    private func detectBrowser(_ ua: UserAgentText, list: DeviceDatabase.ClientList, hints: DetectionHints?) -> Client? {
        var fromAgent: (name: String, version: String)?
        if let (entry, match) = list.entries.first(in: ua) {
            let name = match.fill(entry.name)
            fromAgent = (DetectorTables.browserByLowercasedName[name.lowercased()]?.name ?? name, Self.version(entry.version, match))
        }
        let agentName = fromAgent?.name ?? ""
        let agentVersion = fromAgent?.version ?? ""
        var name: String
        var version: String
        if let hinted = hints.flatMap(browserFromHints), !hinted.name.isEmpty, !hinted.version.isEmpty {
            name = hinted.name
            version = hinted.version
            if version.hasPrefix("2020") || version.hasPrefix("2021") || version.hasPrefix("2022") || version.hasPrefix("2023") || version.hasPrefix("2024") {
                name = "Iridium"
            }
            if version.hasPrefix("15"), agentVersion.hasPrefix("114") { name = "360 Secure Browser" }
            let takesAgentVersion: Set<String> = ["Avast Secure Browser", "Aloha Browser", "Huawei Browser", "Jio Browser",
                                                   "Mi Browser", "Opera Mobile", "Opera", "Vivaldi"]
            if !agentVersion.isEmpty, takesAgentVersion.contains(name) { version = agentVersion }
            let genericAgents: Set<String> = ["Chrome", "Chrome Webview", "Android Browser", "Chrome Mobile"]
            if name == "Chromium" || name == "Chrome Webview", !agentName.isEmpty, !genericAgents.contains(agentName) {
                name = agentName
                if Self.leadingInteger(agentVersion) != Self.leadingInteger(version) || Self.compareVersions(version, agentVersion) <= 0 {
                    version = agentVersion
                }
            }
            if name + " Mobile" == agentName { name = agentName }
            if !agentVersion.isEmpty, agentVersion.hasPrefix(version), Self.compareVersions(version, agentVersion) < 0 {
                version = agentVersion
            }
            if name == "DuckDuckGo Privacy Browser" { version = "" }
        } else {
            name = agentName
            version = agentVersion
        }
        var family = DetectorTables.browserFamily(name)
        if let hints, let app = database.browserApps[hints.app], !app.isEmpty, app != name {
            name = app
            version = ""
            if ua.string.range(of: "Chrome/.+ Safari/537.36", options: [.regularExpression, .caseInsensitive]) != nil {
                family = DetectorTables.browserFamily(name) ?? "Chrome"
            } else {
                family = DetectorTables.browserFamily(name)
            }
        }
        if name.isEmpty || ua.string.contains("Cypress") || ua.string.contains("PhantomJS") { return nil }
        if name == "Every Browser" { family = "Chrome" }
        return Client(type: "browser", name: name, version: version, family: family)
    }

    private func browserFromHints(_ hints: DetectionHints) -> (name: String, version: String)? {
        guard !hints.brands.isEmpty else { return nil }
        var name = ""
        var version = ""
        for brand in hints.brands {
            let mapped = DetectorTables.browserHintNames[brand.name.lowercased()] ?? brand.name
            let candidates = [Self.fuzzyKey(mapped), Self.fuzzyKey(mapped + " Browser")]
            let index = DetectorTables.browsers.firstIndex { entry in
                let key = Self.fuzzyKey(entry.name)
                return candidates.contains(key) || key + "browser" == candidates[0]
            }
            if let index {
                let browserName = DetectorTables.browsers[index].name
                if !(name == "Chrome" && browserName == "Chromium") {
                    name = browserName
                    version = brand.version
                }
            }
            if !["", "Chrome", "Chromium", "Microsoft Edge"].contains(name) { break }
        }
        if !hints.fullVersion.isEmpty { version = hints.fullVersion }
        return (name, Self.version(version, nil))
    }

    // MARK: Devices

    private struct DeviceResult { var kind: DeviceKind?; var brand = ""; var model = "" }

    private func detectDevice(_ ua: UserAgentText, restored: UserAgentText, hints: DetectionHints?, into result: inout DeviceDetection) {
        var device: DeviceResult?
        let gates: [(brands: OrderedPatterns<DeviceDatabase.Brand>, gate: (UserAgentText) -> Bool, forced: DeviceKind?, fallback: DeviceKind?)] = [
            (database.televisions, { Self.hbbTV.matches($0) }, nil, .tv),
            (database.shellTVs, { Self.shellTV.matches($0) }, .tv, nil),
            (database.notebooks, { Self.facebookDesktop.matches($0) }, nil, nil),
            (database.consoles, database.consoles.matchesAny, nil, nil),
            (database.carBrowsers, database.carBrowsers.matchesAny, nil, nil),
            (database.cameras, database.cameras.matchesAny, nil, nil),
            (database.portableMediaPlayers, database.portableMediaPlayers.matchesAny, nil, nil),
            (database.mobiles, { _ in true }, nil, nil),
        ]
        for (brands, gate, forced, fallback) in gates {
            guard gate(ua) else { continue }
            guard var found = parseDevice(brands, restored: restored, hints: hints) else { continue }
            if let forced { found.kind = forced }
            if found.kind == nil, let fallback { found.kind = fallback }
            device = found
            break
        }
        var kind = device?.kind
        var brand = device?.brand ?? ""
        var model = device?.model ?? ""
        if model.isEmpty, let hints { model = hints.model }
        if brand.isEmpty, let (fragment, _) = database.vendorFragments.first(in: ua) {
            brand = fragment.brand
        }
        let osName = result.osName ?? ""
        let osFamily = result.osFamily ?? ""
        let osVersion = result.osVersion ?? ""
        let clientName = result.clientName ?? ""
        if brand == "Apple", !DetectorTables.appleOSNames.contains(osName) {
            kind = nil
            brand = ""
            model = ""
        }
        if brand.isEmpty, DetectorTables.appleOSNames.contains(osName) { brand = "Apple" }
        if brand.isEmpty, osName == "ThinOS" { brand = "Dell" }
        func matches(_ pattern: UserAgentPattern) -> Bool { pattern.matches(ua) }
        if kind == nil, matches(Self.androidVR) { kind = .wearable }
        if kind == nil, osFamily == "Android", matches(Self.chrome) {
            kind = matches(Self.mobileWord) ? .smartphone : .tablet
        }
        if kind == .smartphone, matches(Self.padAPad) { kind = .tablet }
        if kind == nil, matches(Self.androidTablet) || matches(Self.operaTablet) { kind = .tablet }
        if kind == nil, matches(Self.androidMobile) { kind = .smartphone }
        if kind == nil, osName == "Android", !osVersion.isEmpty {
            if Self.compareVersions(osVersion, "2.0") < 0 {
                kind = .smartphone
            } else if Self.compareVersions(osVersion, "3.0") >= 0, Self.compareVersions(osVersion, "4.0") < 0 {
                kind = .tablet
            }
        }
        if kind == .featurePhone, osFamily == "Android" { kind = .smartphone }
        if osName == "Java ME", kind == nil { kind = .featurePhone }
        if osName == "KaiOS" { kind = .featurePhone }
        if kind == nil, osName == "Windows RT" || (osName == "Windows" && Self.compareVersions(osVersion, "8") >= 0), matches(Self.touch) {
            kind = .tablet
        }
        if kind == nil, matches(Self.puffinDesktop) { kind = .desktop }
        if kind == nil, matches(Self.puffinPhone) { kind = .smartphone }
        if kind == nil, matches(Self.puffinTablet) { kind = .tablet }
        if matches(Self.operaTV) { kind = .tv }
        if osName == "Coolita OS" {
            kind = .tv
            brand = "coocaa"
        }
        if osName == "VIDAA" { kind = .tv }
        if kind != .tv, kind != .wearable, kind != .peripheral, matches(Self.televisionMarkers) { kind = .tv }
        if kind == nil, matches(Self.smartTV) { kind = .tv }
        if DetectorTables.televisionClients.contains(clientName) { kind = .tv }
        if kind == nil, matches(Self.tvParenthesis) { kind = .tv }
        if kind != .desktop, matches(Self.desktopMarker) { kind = .desktop }
        if kind == nil, isDesktop(result) { kind = .desktop }
        result.device = kind
        result.brand = brand.isEmpty ? nil : brand
        result.model = model.isEmpty ? nil : model
    }

    private func isDesktop(_ result: DeviceDetection) -> Bool {
        guard let osName = result.osName, !osName.isEmpty else { return false }
        if usesMobileBrowser(result) { return false }
        return DetectorTables.osFamily(osName).map(DetectorTables.desktopOSFamilies.contains) ?? false
    }

    private func usesMobileBrowser(_ result: DeviceDetection) -> Bool {
        guard result.clientType == "browser", let name = result.clientName else { return false }
        return DetectorTables.browserByName[name]?.mobileOnly ?? false
    }

    private func parseDevice(_ brands: OrderedPatterns<DeviceDatabase.Brand>, restored ua: UserAgentText, hints: DetectionHints?) -> DeviceResult? {
        var fromHints: DeviceResult?
        if let hints, !hints.model.isEmpty {
            let factors = Set(hints.formFactors)
            fromHints = DeviceResult(kind: DetectorTables.formFactors.first { factors.contains($0.0) }?.1, brand: "", model: hints.model)
        }
        if fromHints == nil, Self.hasClientHintsFragment(ua) { return DeviceResult() }
        if fromHints == nil, Self.hasDesktopFragment(ua) { return DeviceResult() }
        if let (brand, match) = brands.first(in: ua) {
            var result = DeviceResult()
            if brand.name != "Unknown" { result.brand = brand.name }
            result.kind = brand.device.flatMap(DeviceKind.init(rawValue:))
            if let model = brand.model { result.model = Self.model(model, match) }
            if !brand.models.entries.isEmpty {
                guard let (entry, modelMatch) = brand.models.first(in: ua) else { return result }
                result.model = Self.model(entry.model, modelMatch)
                if let other = entry.brand { result.brand = other }
                if let kind = entry.device.flatMap(DeviceKind.init(rawValue:)) { result.kind = kind }
            }
            return result
        }
        return fromHints
    }

    // MARK: Client hints and the user agent

    /// device-detector's `restoreUserAgentFromClientHints`: the model from hints written into a reduced
    /// Android or desktop user agent, so device patterns can see it.
    func restore(_ userAgent: String, hints: DetectionHints) -> String {
        guard !hints.model.isEmpty else { return userAgent }
        var restored = userAgent
        let text = UserAgentText(userAgent, patterns: .empty)
        if Self.hasClientHintsFragment(text) {
            let version = hints.platformVersion.isEmpty ? "10" : hints.platformVersion
            restored = restored.replacingOccurrences(of: "Android (?:10[.\\d]*; K|1[1-7])", with: "Android \(version); \(hints.model)",
                                                     options: .regularExpression)
        }
        guard Self.hasDesktopFragment(UserAgentText(restored, patterns: .empty)) else { return restored }
        return restored
            .replacingOccurrences(of: "X11; Linux x86_64", with: "X11; Linux x86_64; \(hints.model)")
            .replacingOccurrences(of: "Windows NT 10.0; Win64; x64", with: "Windows NT 10.0; Win64; x64; \(hints.model)")
    }

    static func hasClientHintsFragment(_ ua: UserAgentText) -> Bool {
        clientHintsFragment.matches(ua) && ua.string.range(of: "Telegram-Android/", options: .caseInsensitive) == nil
    }

    static func hasDesktopFragment(_ ua: UserAgentText) -> Bool {
        desktopFragment.matches(ua) && !desktopExclusions.matches(ua)
    }

    // Patterns of the algorithm itself (not of the database).
    private static func detectorPattern(_ source: String) -> UserAgentPattern { UserAgentPattern(source, boundary: .detector) }
    static let clientHintsFragment = UserAgentPattern("Android (?:1[0-7][.\\d]*; K(?: Build/|[;)])|1[0-7]\\)) AppleWebKit", boundary: .none)
    static let desktopFragment = UserAgentPattern("(?:Windows (?:NT|IoT)|X11; Linux x86_64)")
    static let desktopExclusions = UserAgentPattern(
        "CE-HTML| Mozilla/|Andr[o0]id|Tablet|Mobile|iPhone|Windows Phone|ricoh|OculusBrowser|PicoBrowser|Lenovo|compatible; MSIE|Trident/|Tesla/|XBOX|FBMD/|ARM; ?([^)]+)")
    static let hbbTV = UserAgentPattern("(?:HbbTV|SmartTvA)/([1-9]{1}(?:\\.[0-9]{1}){1,2})")
    static let shellTV = UserAgentPattern("[a-z]+[ _]Shell[ _]\\w{6}|tclwebkit(\\d+[.\\d]*)")
    static let facebookDesktop = UserAgentPattern("FBMD/")
    static let androidTablet = detectorPattern("Android( [.0-9]+)?; Tablet;|Tablet(?! PC)|.*\\-tablet$")
    static let androidMobile = detectorPattern("Android( [.0-9]+)?; Mobile;|.*\\-mobile$")
    static let androidVR = detectorPattern("Android( [.0-9]+)?; Mobile VR;| VR ")
    static let desktopMarker = detectorPattern("(?:Desktop|PC)(?: (x(?:32|64)|WOW64))?;")
    static let chrome = detectorPattern("Chrome/[.0-9]*")
    static let mobileWord = detectorPattern("(?:Mobile|eliboM)")
    static let padAPad = detectorPattern("Pad/APad")
    static let operaTablet = detectorPattern("Opera Tablet")
    static let touch = detectorPattern("Touch")
    static let puffinDesktop = detectorPattern("Puffin/(?:\\d+[.\\d]+)[LMW]D")
    static let puffinPhone = detectorPattern("Puffin/(?:\\d+[.\\d]+)[AIFLW]P")
    static let puffinTablet = detectorPattern("Puffin/(?:\\d+[.\\d]+)[AILW]T")
    static let operaTV = detectorPattern("Opera TV Store| OMI/")
    static let televisionMarkers = detectorPattern("Andr0id|(?:Android(?: UHD)?|Google) TV|\\(lite\\) TV|BRAVIA|Firebolt| TV$")
    static let smartTV = detectorPattern("SmartTV|Tizen.+ TV .+$")
    static let tvParenthesis = detectorPattern("\\(TV;")

    // MARK: Versions and names

    /// device-detector's `buildVersion`: groups filled in, `_` read as `.`, trailing dots and spaces trimmed.
    static func version(_ template: String, _ match: PatternMatch?) -> String {
        let filled = match?.fill(template) ?? template
        return filled.replacingOccurrences(of: "_", with: ".").trimmingCharacters(in: CharacterSet(charactersIn: " ."))
    }

    /// `buildModel`: groups filled in, `_` as space, a trailing " TD" dropped, "Build" means none.
    static func model(_ template: String, _ match: PatternMatch) -> String {
        var model = match.fill(template).replacingOccurrences(of: "_", with: " ")
        if model.lowercased().hasSuffix(" td") { model.removeLast(3) }
        model = model.trimmingCharacters(in: .whitespaces)
        return model == "Build" ? "" : model
    }

    static func fuzzyKey(_ name: String) -> String { name.lowercased().replacingOccurrences(of: " ", with: "") }

    static func leadingInteger(_ text: String) -> Int {
        Int(text.prefix { $0.isASCII && $0.isNumber }) ?? 0
    }

    /// Numeric comparison part by part; with equal parts the longer version is the greater (PHP's
    /// `version_compare` for the plain versions the database produces).
    static func compareVersions(_ a: String, _ b: String) -> Int {
        let left = a.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
        let right = b.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
        for (x, y) in zip(left, right) where x != y { return x < y ? -1 : 1 }
        return left.count == right.count ? 0 : (left.count < right.count ? -1 : 1)
    }
}
