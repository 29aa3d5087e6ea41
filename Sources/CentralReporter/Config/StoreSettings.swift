import Foundation
import TallyCore

/// `[store]`: without a `url`, central keeps everything in `<data_dir>/central.sqlite`; with
/// `url = "postgresql://USER@HOST:PORT/DATABASE"`, in that PostgreSQL database, which several central
/// nodes may share. The password comes from a file or an environment variable, never from the
/// configuration; with `ca_file`, the connection uses TLS and the server's certificate must chain to it.
public struct StoreSettings: Sendable, Equatable {
    public struct PostgreSQL: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String
        public var database: String
    }

    /// nil for the embedded SQLite store.
    public var postgres: PostgreSQL?
    public var passwordFile: String?
    public var passwordEnvironment: String?
    public var caFile: String?
    /// Connections each node keeps to the database at most.
    public var maxConnections = 8
    /// How long connecting may take, and how long start-up waits for the database.
    public var connectTimeoutSeconds: Int64 = 10

    public init() {}

    static func read(_ reader: inout TOMLReader) throws -> StoreSettings {
        var settings = StoreSettings()
        if reader.has("password") {
            throw ConfigError.invalid(key: reader.path("password"), value: "(hidden)", expected: "no password in the configuration: use password_file or password_env")
        }
        if let url = try reader.string("url") {
            settings.postgres = try parse(url: url, key: reader.path("url"))
        }
        settings.passwordFile = try reader.string("password_file")
        settings.passwordEnvironment = try reader.string("password_env")
        settings.caFile = try reader.string("ca_file")
        if let v = try reader.int("max_connections", in: 1...1000) { settings.maxConnections = v }
        if let v = try reader.int("connect_timeout_seconds", in: 1...600) { settings.connectTimeoutSeconds = Int64(v) }
        if settings.postgres == nil, let key = ["password_file", "password_env", "ca_file"].first(where: { reader.has($0) }) {
            throw ConfigError.invalid(key: reader.path(key), value: "set without url", expected: "a PostgreSQL url, or nothing for the embedded SQLite store")
        }
        return settings
    }

    /// Settings for a PostgreSQL database named on the command line (`migrate-store --to`).
    public static func postgres(url: String, passwordFile: String?, passwordEnvironment: String?, caFile: String?) throws -> StoreSettings {
        var settings = StoreSettings()
        settings.postgres = try parse(url: url, key: "--to")
        settings.passwordFile = passwordFile
        settings.passwordEnvironment = passwordEnvironment
        settings.caFile = caFile
        return settings
    }

    /// What the store is, for messages: the SQLite file's path or the database's URL.
    public func describe(sqlitePath: String) -> String {
        postgres.map { "postgresql://\($0.username)@\($0.host):\($0.port)/\($0.database)" } ?? sqlitePath
    }

    /// `postgresql://USER@HOST[:PORT]/DATABASE` (also `postgres://`); no password, no options.
    static func parse(url text: String, key: String) throws -> PostgreSQL {
        let expected = "postgresql://USER@HOST:PORT/DATABASE, with the password in password_file or password_env"
        guard let components = URLComponents(string: text), ["postgresql", "postgres"].contains(components.scheme ?? "") else {
            throw ConfigError.invalid(key: key, value: "\"\(text)\"", expected: expected)
        }
        if components.password != nil {
            throw ConfigError.invalid(key: key, value: "(a url with a password)", expected: "no password in the configuration: use password_file or password_env")
        }
        let database = String(components.path.dropFirst())
        guard let user = components.user, !user.isEmpty, let host = components.host, !host.isEmpty, !database.isEmpty,
              !database.contains("/"), components.query == nil, components.fragment == nil else {
            throw ConfigError.invalid(key: key, value: "\"\(text)\"", expected: expected)
        }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw ConfigError.invalid(key: key, value: "\"\(text)\"", expected: expected) }
        return PostgreSQL(host: host, port: port, username: user, database: database)
    }

    /// The database password, if one is configured.
    public func password() throws -> String? {
        try PasswordSource(file: passwordFile, environment: passwordEnvironment, what: "database password", key: "store.password_env")
            .read(failing: CentralError.storeSettings)
    }
}

/// A password kept out of the configuration: in a private file, or in an environment variable.
struct PasswordSource {
    var file: String?
    var environment: String?
    /// What it is ("SMTP password") and the key naming the variable, for messages.
    var what: String
    var key: String

    /// The password, or nil when neither is configured; a problem is thrown as `failing(message)`.
    func read(failing: (String) -> any Error) throws -> String? {
        if let file {
            if let problem = SecretFile.problem(file) { throw failing("The \(what) file \(file) \(problem).") }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw failing("The \(what) file \(file) cannot be read.") }
            return text.trimmingCharacters(in: .newlines)
        }
        if let environment {
            guard let value = ProcessInfo.processInfo.environment[environment] else {
                throw failing("The environment variable \(environment) named by \(key) is not set.")
            }
            return value
        }
        return nil
    }
}
