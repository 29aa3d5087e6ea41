/// Everything that can go wrong in the edge collector that a person has to act on. Each description is
/// one sentence naming the offending value and what to do.
public enum EdgeError: Error, CustomStringConvertible, Equatable {
    case configUnreadable(path: String, reason: String)
    case configSyntax(path: String, line: Int, column: Int, reason: String)
    case configInvalid(key: String, value: String, expected: String)
    case configMissing(key: String)
    case configUnknownKey(key: String)
    case geoDatabase(path: String, reason: String)
    case buffer(path: String, reason: String)
    case saltState(path: String, reason: String)
    case keyFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .configUnreadable(path, reason):
            "Cannot read the configuration file \(path) (\(reason)); check the path given with -c."
        case let .configSyntax(path, line, column, reason):
            "\(path):\(line):\(column) is not valid TOML (\(reason)); fix the syntax there."
        case let .configInvalid(key, value, expected):
            "\(key) = \(value) is not valid: expected \(expected)."
        case let .configMissing(key):
            "\(key) is required but missing; add it to the configuration (see edge/edge.example.toml)."
        case let .configUnknownKey(key):
            "\(key) is not a known setting; remove it or check its spelling against edge/edge.example.toml."
        case let .geoDatabase(path, reason):
            "Cannot open the GeoIP database \(path) (\(reason)); point geoip_database at a MaxMind .mmdb file or remove the key."
        case let .buffer(path, reason):
            "The buffer \(path) cannot be used (\(reason)); check the data directory's permissions and free space."
        case let .saltState(path, reason):
            "The salt state \(path) cannot be used (\(reason)); check the data directory's permissions."
        case let .keyFile(path, reason):
            "The key file \(path) cannot be used: it \(reason)."
        }
    }
}
