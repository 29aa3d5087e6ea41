/// What can stop central that a person has to act on (configuration problems are `ConfigError`).
public enum CentralError: Error, CustomStringConvertible, Equatable {
    case store(path: String, reason: String)
    case tls(path: String, reason: String)
    case dataDirectory(path: String, reason: String)

    public var description: String {
        switch self {
        case let .store(path, reason):
            "The store \(path) cannot be used (\(reason)); check the data directory's permissions and free space."
        case let .tls(path, reason):
            "The TLS file \(path) cannot be used: it \(reason)."
        case let .dataDirectory(path, reason):
            "The data directory \(path) cannot be used (\(reason)); create it or fix its permissions."
        }
    }
}
