import Foundation
import Yams

/// Matomo's device-detector database, read from its YAML files: the directory that holds `bots.yml`,
/// `oss.yml`, `vendorfragments.yml`, `client/` and `device/` (the package's `regexes/upstream`).
///
/// Entries keep the files' order, which is significant: the first pattern that matches wins, and the
/// files list specific patterns before generic ones.
public struct DeviceDatabase: Sendable {
    struct Bot { let pattern: PatternID; let name: String; let category: String? }
    struct OSVersion { let pattern: PatternID; let name: String?; let version: String? }
    struct OS { let pattern: PatternID; let name: String; let version: String?; let versions: OrderedPatterns<OSVersion> }
    struct Client { let pattern: PatternID; let name: String; let version: String }
    struct Model { let pattern: PatternID; let model: String; let device: String?; let brand: String? }
    struct Brand { let name: String; let pattern: PatternID; let device: String?; let model: String?; let models: OrderedPatterns<Model> }

    /// A client parser: its kind (as Matomo names it) and its patterns.
    struct ClientList { let kind: String; let entries: OrderedPatterns<Client> }
    struct VendorFragment { let brand: String; let pattern: PatternID }

    let directory: String
    /// Every pattern of the files, with the literals they require; the lists below name patterns in it.
    let patterns: PatternStore
    let bots: OrderedPatterns<Bot>
    let operatingSystems: OrderedPatterns<OS>
    /// Feed readers, mobile apps, media players, PIM, browsers, libraries — device-detector's order.
    let clients: [ClientList]
    /// Android app ids (the `X-Requested-With` header) → browser and app names.
    let browserApps: [String: String]
    let otherApps: [String: String]
    /// Device files in device-detector's order; `televisions` and `shell_tv` are gated by HbbTV and
    /// shell markers, `notebooks` by `FBMD/`.
    let televisions: OrderedPatterns<Brand>
    let shellTVs: OrderedPatterns<Brand>
    let notebooks: OrderedPatterns<Brand>
    let consoles: OrderedPatterns<Brand>
    let carBrowsers: OrderedPatterns<Brand>
    let cameras: OrderedPatterns<Brand>
    let portableMediaPlayers: OrderedPatterns<Brand>
    let mobiles: OrderedPatterns<Brand>
    let vendorFragments: OrderedPatterns<VendorFragment>
    /// Reads every file; a missing or unreadable directory or file, or YAML that does not parse, throws
    /// one line naming the file and line.
    /// `literalFilters: false` runs every pattern through ICU (slow; the tests check it changes no answer).
    public init(directory: String, literalFilters: Bool = true) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DeviceDatabaseError(
                "device database directory \(directory) does not exist; install it with scripts/install-deps.sh or set device_database in edge.toml to a copy of device-detector's regexes")
        }
        let reader = YAMLFileReader(directory: directory, patterns: PatternStore.Builder(literalFilters: literalFilters))
        bots = OrderedPatterns(try reader.sequence("bots.yml").map { entry in
            Bot(pattern: try entry.pattern(), name: try entry.string("name"), category: entry.optional("category"))
        }, pattern: \.pattern)
        operatingSystems = OrderedPatterns(try reader.sequence("oss.yml").map { entry in
            OS(pattern: try entry.pattern(), name: try entry.string("name"), version: entry.optional("version"),
               versions: OrderedPatterns(try entry.list("versions").map {
                   OSVersion(pattern: try $0.pattern(), name: $0.optional("name"), version: $0.optional("version"))
               }, pattern: \.pattern))
        }, pattern: \.pattern)
        let clientFiles = [("feed reader", "client/feed_readers.yml"), ("mobile app", "client/mobile_apps.yml"),
                           ("mediaplayer", "client/mediaplayers.yml"), ("pim", "client/pim.yml"),
                           ("browser", "client/browsers.yml"), ("library", "client/libraries.yml")]
        clients = try clientFiles.map { kind, file in
            ClientList(kind: kind, entries: OrderedPatterns(try reader.sequence(file).map { entry in
                Client(pattern: try entry.pattern(), name: try entry.string("name"), version: entry.optional("version") ?? "")
            }, pattern: \.pattern))
        }
        browserApps = try reader.stringMap("client/hints/browsers.yml")
        otherApps = try reader.stringMap("client/hints/apps.yml")
        televisions = try reader.brands("device/televisions.yml")
        shellTVs = try reader.brands("device/shell_tv.yml")
        notebooks = try reader.brands("device/notebooks.yml")
        consoles = try reader.brands("device/consoles.yml")
        carBrowsers = try reader.brands("device/car_browsers.yml")
        cameras = try reader.brands("device/cameras.yml")
        portableMediaPlayers = try reader.brands("device/portable_media_player.yml")
        mobiles = try reader.brands("device/mobiles.yml")
        vendorFragments = try reader.vendorFragments("vendorfragments.yml")
        patterns = reader.patterns.build()
    }

    /// Compiles every pattern; one line per pattern ICU cannot compile (file, entry, pattern, reason).
    /// Such a pattern never matches; the rest of the database works.
    public func invalidPatterns() -> [String] {
        var problems: [String] = []
        func check(_ file: String, _ label: String, _ pattern: PatternID) {
            if let problem = patterns.compilationProblem(pattern, file: "\(directory)/\(file)", entry: label) { problems.append(problem) }
        }
        for bot in bots.entries { check("bots.yml", bot.name, bot.pattern) }
        for os in operatingSystems.entries {
            check("oss.yml", os.name, os.pattern)
            for version in os.versions.entries { check("oss.yml", os.name, version.pattern) }
        }
        for list in clients { for client in list.entries.entries { check("client (\(list.kind))", client.name, client.pattern) } }
        let deviceFiles: [(String, OrderedPatterns<Brand>)] = [
            ("device/televisions.yml", televisions), ("device/shell_tv.yml", shellTVs), ("device/notebooks.yml", notebooks),
            ("device/consoles.yml", consoles), ("device/car_browsers.yml", carBrowsers), ("device/cameras.yml", cameras),
            ("device/portable_media_player.yml", portableMediaPlayers), ("device/mobiles.yml", mobiles),
        ]
        for (file, brands) in deviceFiles {
            for brand in brands.entries {
                check(file, brand.name, brand.pattern)
                for model in brand.models.entries { check(file, "\(brand.name) \(model.model)", model.pattern) }
            }
        }
        for fragment in vendorFragments.entries { check("vendorfragments.yml", fragment.brand, fragment.pattern) }
        return problems
    }

    /// How many patterns the database holds (for start-up logs).
    public var patternCount: Int { patterns.count }
}

public struct DeviceDatabaseError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Reads the database's files with Yams, keeping mapping order and line numbers for messages.
private struct YAMLFileReader {
    let directory: String
    let patterns: PatternStore.Builder

    struct Entry {
        let node: Node
        let file: String
        let path: String
        let patterns: PatternStore.Builder

        func fail(_ problem: String) -> DeviceDatabaseError {
            DeviceDatabaseError("device database: \(path):\(node.mark?.line ?? 0): \(problem); fix or replace the file")
        }

        func optional(_ key: String) -> String? {
            guard let value = node[key] else { return nil }
            if value.scalar != nil { return value.string }
            return nil
        }

        func string(_ key: String) throws -> String {
            guard let value = optional(key) else { throw fail("entry has no \(key)") }
            return value
        }

        func pattern() throws -> PatternID {
            patterns.add(try string("regex"))
        }

        func list(_ key: String) throws -> [Entry] {
            guard let value = node[key] else { return [] }
            guard let sequence = value.sequence else { throw fail("\(key) is not a list") }
            return sequence.map { Entry(node: $0, file: file, path: path, patterns: patterns) }
        }
    }

    func document(_ file: String) throws -> (Node, String) {
        let path = directory + "/" + file
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DeviceDatabaseError("device database: \(path) is missing or unreadable; reinstall the database or fix device_database in edge.toml")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DeviceDatabaseError("device database: \(path):1: the file is not UTF-8; reinstall the database")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw DeviceDatabaseError("device database: \(path):1: the file is empty; reinstall the database")
            }
            return (node, path)
        } catch let error as YamlError {
            throw DeviceDatabaseError("device database: \(path):\(Self.line(of: error)): YAML does not parse (\(Self.problem(of: error))); fix or replace the file")
        }
    }

    func sequence(_ file: String) throws -> [Entry] {
        let (node, path) = try document(file)
        guard let sequence = node.sequence else {
            throw DeviceDatabaseError("device database: \(path):1: expected a list of entries; reinstall the database")
        }
        return sequence.map { Entry(node: $0, file: file, path: path, patterns: patterns) }
    }

    func mapping(_ file: String) throws -> (Node.Mapping, String) {
        let (node, path) = try document(file)
        guard let mapping = node.mapping else {
            throw DeviceDatabaseError("device database: \(path):1: expected a mapping; reinstall the database")
        }
        return (mapping, path)
    }

    func stringMap(_ file: String) throws -> [String: String] {
        let (mapping, _) = try mapping(file)
        var result: [String: String] = [:]
        for (key, value) in mapping {
            if let key = key.string, let value = value.string { result[key] = value }
        }
        return result
    }

    func brands(_ file: String) throws -> OrderedPatterns<DeviceDatabase.Brand> {
        let (mapping, path) = try mapping(file)
        return OrderedPatterns(try mapping.map { key, value in
            let entry = Entry(node: value, file: file, path: path, patterns: patterns)
            guard let name = key.string else { throw entry.fail("brand name is not text") }
            return DeviceDatabase.Brand(
                name: name, pattern: try entry.pattern(), device: entry.optional("device"), model: entry.optional("model"),
                models: OrderedPatterns(try entry.list("models").map {
                    DeviceDatabase.Model(pattern: try $0.pattern(), model: $0.optional("model") ?? "",
                                         device: $0.optional("device"), brand: $0.optional("brand"))
                }, pattern: \.pattern))
        }, pattern: \.pattern)
    }

    func vendorFragments(_ file: String) throws -> OrderedPatterns<DeviceDatabase.VendorFragment> {
        let (mapping, _) = try mapping(file)
        var result: [DeviceDatabase.VendorFragment] = []
        for (key, value) in mapping {
            guard let brand = key.string else { continue }
            for regex in value.sequence ?? [] {
                if let source = regex.string { result.append(.init(brand: brand, pattern: patterns.add(source + "[^a-z0-9]+"))) }
            }
        }
        return OrderedPatterns(result, pattern: \.pattern)
    }

    static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        case .duplicatedKeysInMapping(_, let context): return context.mark.line
        default: return 0
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        case .duplicatedKeysInMapping(let duplicates, _): return "repeated key \(duplicates.joined(separator: ", "))"
        default: return "\(error)".split(separator: "\n").first.map(String.init) ?? "unreadable"
        }
    }
}

extension DeviceDatabase {
    /// Where `scripts/install-deps.sh` installs the pinned `device-detector` package (PyPI), and so the
    /// default of `device_database`.
    public static let installedPackage = "/usr/local/share/tally/pypi/device_detector"
    public static let installedDirectory = installedPackage + "/regexes/upstream"
    /// The upstream test fixtures the package carries (used by the conformance tests).
    public static let installedFixturesDirectory = installedPackage + "/tests/fixtures/upstream"
}
