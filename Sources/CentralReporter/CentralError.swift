/// What can stop central that a person has to act on (configuration problems are `ConfigError`).
public enum CentralError: Error, CustomStringConvertible, Equatable {
    case store(path: String, reason: String)
    case tls(path: String, reason: String)
    case dataDirectory(path: String, reason: String)
    /// The `[store]` settings cannot be used as they are.
    case storeSettings(String)
    /// The PostgreSQL database cannot be reached or used.
    case database(target: String, reason: String)
    /// The database was set up by a newer central.
    case schemaTooNew(target: String, found: Int, known: Int)
    /// The store cannot be reached or is overloaded now; the same request may succeed later.
    case storeUnavailable(target: String, reason: String)

    public var description: String {
        switch self {
        case let .store(path, reason):
            "The store \(path) cannot be used (\(reason)); check the data directory's permissions and free space."
        case let .tls(path, reason):
            "The TLS file \(path) cannot be used: it \(reason)."
        case let .dataDirectory(path, reason):
            "The data directory \(path) cannot be used (\(reason)); create it or fix its permissions."
        case let .storeSettings(message):
            message
        case let .database(target, reason):
            "The database \(target) cannot be used (\(reason)); check that PostgreSQL runs there and the user, password and TLS settings of [store]."
        case let .schemaTooNew(target, found, known):
            "The database \(target) has schema version \(found), newer than this central's \(known); run the newer tally-central, or point [store] url at another database."
        case let .storeUnavailable(target, reason):
            "The store \(target) cannot be reached now (\(reason)); retry later."
        }
    }
}
