/// Everything that can go wrong in the edge collector that a person has to act on (configuration
/// problems are `ConfigError`, shared with central). Each description is
/// one sentence naming the offending value and what to do.
public enum EdgeError: Error, CustomStringConvertible, Equatable {
    case geoDatabase(path: String, reason: String)
    case buffer(path: String, reason: String)
    case saltState(path: String, reason: String)
    case keyFile(path: String, reason: String)
    case listen(address: String, reason: String)

    public var description: String {
        switch self {
        case let .geoDatabase(path, reason):
            "Cannot open the GeoIP database \(path) (\(reason)); point geoip_database at a MaxMind .mmdb file or remove the key."
        case let .buffer(path, reason):
            "The buffer \(path) cannot be used (\(reason)); check the data directory's permissions and free space."
        case let .saltState(path, reason):
            "The salt state \(path) cannot be used (\(reason)); check the data directory's permissions."
        case let .keyFile(path, reason):
            "The key file \(path) cannot be used: it \(reason)."
        case let .listen(address, reason):
            "Cannot listen on \(address) (\(reason)); free the port or change listen in edge.toml."
        }
    }
}
