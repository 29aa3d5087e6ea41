import Crypto
import Foundation
import TallyCore
import TrackingInput

/// libFuzzer's entry point: one input for the target named by `TALLY_FUZZ_TARGET`. Each target feeds the
/// bytes to one parser of untrusted input and checks what the parser promises; a trap, a broken promise
/// (`check`) or a hang is a finding, and libFuzzer saves the input that caused it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzTarget.selected.run(bytes)
    return 0
}

enum FuzzTarget: String, CaseIterable {
    case query, bulk, beacon, hit, batch, toml

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["TALLY_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("TALLY_FUZZ_TARGET \"\(name)\" is not a target; use one of \(names).\n".utf8))
            exit(2)
        }
        return target
    }()

    func run(_ bytes: [UInt8]) {
        switch self {
        case .query: QueryTarget.run(bytes)
        case .bulk: BulkTarget.run(bytes)
        case .beacon: BeaconTarget.run(bytes)
        case .hit: HitTarget.run(bytes)
        case .batch: BatchTarget.run(bytes)
        case .toml: TOMLTarget.run(bytes)
        }
    }
}

/// A broken promise: reported like a trap, so libFuzzer keeps the input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("promise broken: \(message())\n".utf8))
        abort()
    }
}

/// Small limits, so inputs of a few hundred bytes reach every bound.
let fuzzLimits: RequestLimits = {
    var limits = RequestLimits()
    limits.maxParameters = 12
    limits.maxValueBytes = 64
    limits.maxBulkRequests = 6
    return limits
}()

func hasControlCharacter(_ text: String) -> Bool {
    text.unicodeScalars.contains { $0.properties.generalCategory == .control }
}

/// Parsed parameters keep every bound and carry no control character, in names or values.
func checkParameters(_ parameters: QueryParameters) {
    let pairs = parameters.dictionary
    check(pairs.count <= fuzzLimits.maxParameters, "\(pairs.count) parameters exceed the limit")
    for (name, value) in pairs {
        check(!name.isEmpty, "an empty parameter name was kept")
        check(value.utf8.count <= fuzzLimits.maxValueBytes, "value of \(name) exceeds the limit")
        check(!hasControlCharacter(name) && !hasControlCharacter(value), "a control character survived in \(name)")
        check(parameters[name] == value, "lookup of \(name) disagrees with the dictionary")
    }
}

enum QueryTarget {
    static func run(_ bytes: [UInt8]) {
        guard let parameters = try? QueryParameters.parse(bytes, limits: fuzzLimits) else { return }
        checkParameters(parameters)
    }
}

enum BulkTarget {
    static func run(_ bytes: [UInt8]) {
        guard let bulk = try? BulkRequest.parse(bytes, query: QueryParameters(), limits: fuzzLimits) else { return }
        check(bulk.entries.count <= fuzzLimits.maxBulkRequests, "\(bulk.entries.count) bulk entries exceed the limit")
        for case let .success(parameters) in bulk.entries { checkParameters(parameters) }
    }
}

enum BeaconTarget {
    static func run(_ bytes: [UInt8]) {
        guard let parameters = try? EventBeacon.parameters(body: bytes, limits: fuzzLimits) else { return }
        for (name, value) in parameters.dictionary {
            check(!hasControlCharacter(value), "a control character survived in \(name)")
        }
    }
}

enum HitTarget {
    /// A record that reads writes back to canonical JSON that reads as the same record.
    static func run(_ bytes: [UInt8]) {
        let read: Result<Hit, HitJSONError> = bytes.withUnsafeBytes { raw in Result { () throws(HitJSONError) in try Hit.readJSON(raw) } }
        guard case let .success(hit) = read else { return }
        guard let encoded = try? hit.encodedJSON() else {
            check(false, "a record that was read cannot be written")
            return
        }
        check((try? Hit.readJSON(encoded)) == hit, "a record does not survive writing and reading again")
        var repaired = hit
        _ = repaired.repair()
        check(repaired.repair().isEmpty, "a repaired record still needs repairs")
    }
}

enum BatchTarget {
    /// Any key: signatures of mutated batches fail, but everything before and after verification runs.
    static let publicKey: [UInt8] = Array(SHA256.hash(data: Data("tally fuzz".utf8)))

    static func run(_ bytes: [UInt8]) {
        var limits = BatchLimits()
        limits.maxHits = 50
        limits.maxBodyBytes = 1 << 16
        guard let batch = try? ReceivedBatch(bytes: Data(bytes), limits: limits) else { return }
        if let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) {
            _ = try? batch.verify(publicKey: key)
        }
        guard let hits = try? batch.hits() else { return }
        check(hits.count == batch.header.hitCount, "\(hits.count) hits read, \(batch.header.hitCount) declared")
    }
}

enum TOMLTarget {
    /// Every accessor on every key of every table, as the configuration parsers use them; each either
    /// returns a value or throws a `ConfigError` that names the key.
    static func run(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        guard let reader = try? TOMLReader.parse(text, path: "fuzz.toml"), let table = try? TOMLTable(parsing: text) else { return }
        check(table.keys.count == Set(table.keys).count, "a table holds a key twice")
        walk(reader, table, depth: 0)
    }

    static func walk(_ reader: TOMLReader, _ table: TOMLTable, depth: Int) {
        guard depth < 8 else { return }
        for key in table.keys {
            var r = reader
            expectConfigError { _ = try r.string(key) }
            expectConfigError { _ = try r.requiredString(key) }
            expectConfigError { _ = try r.int(key, in: 0...65_535) }
            expectConfigError { _ = try r.bool(key) }
            expectConfigError { _ = try r.stringArray(key) }
            expectConfigError { _ = try r.intArray(key) }
            if let text = try? r.string(key) {
                expectConfigError { _ = try ListenAddress.parse(text, key: key) }
            }
            if let sub = try? r.subtable(key), let subTable = table[key]?.table {
                walk(sub, subTable, depth: depth + 1)
            }
            if let subs = try? r.tableArray(key), let array = table[key]?.array {
                for (sub, element) in zip(subs, array) {
                    if let subTable = element.table { walk(sub, subTable, depth: depth + 1) }
                }
            }
            expectConfigError { try r.rejectUnknownKeys() }
        }
    }

    static func expectConfigError(_ body: () throws -> Void) {
        do {
            try body()
        } catch let error as ConfigError {
            check(!error.description.isEmpty, "a configuration error without a message")
        } catch {
            check(false, "a configuration accessor threw \(type(of: error)), not a ConfigError")
        }
    }
}
