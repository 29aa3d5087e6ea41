import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization
import TallyCore

/// Central's data in a PostgreSQL database that several central nodes share (`[store] url`).
///
/// Every operation is one transaction. What must happen once across nodes is decided by the database:
/// a batch's (edge, stream, sequence) is its primary key, so the same batch delivered to two nodes at
/// once is stored by one and answered as a duplicate by the other. Raw hits are partitioned by UTC day
/// (declarative range partitions on `ts`), so purging old hits drops whole partitions.
public final class PostgresCentralStore: CentralStore {
    /// The schema this build creates and understands; a database with a newer one is refused.
    static let schemaVersion = 1

    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger
    /// `postgresql://user@host:port/database`, for messages (never with a password).
    public let target: String
    /// How long an operation waits for a connection while the database is away.
    let waitLimit: Duration
    /// Each day waits on the server for its rows and its commit: twice the cores keep the CPU busy,
    /// within the connections the node may open.
    public let dayParallelism: Int
    public let zones: @Sendable (Int) -> TimeZone
    /// The UTC days (days since 1970) whose hit partition is known to exist.
    private let partitions = Mutex<Set<Int64>>([])

    private init(client: PostgresClient, target: String, waitLimit: Duration, maxConnections: Int, zones: @escaping @Sendable (Int) -> TimeZone, logger: Logger) {
        self.client = client
        self.target = target
        self.waitLimit = waitLimit
        dayParallelism = max(1, min(2 * ProcessInfo.processInfo.activeProcessorCount, maxConnections - 1))
        self.zones = zones
        self.logger = logger
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Connects, creates the schema in an empty database (or checks the one there), and returns the store.
    public static func open(
        _ settings: StoreSettings, zones: @escaping @Sendable (Int) -> TimeZone = { _ in TimeZone.gmt }, logger: Logger
    ) async throws -> PostgresCentralStore {
        guard let postgres = settings.postgres else { throw CentralError.storeSettings("[store] url names no PostgreSQL database.") }
        let target = "postgresql://\(postgres.username)@\(postgres.host):\(postgres.port)/\(postgres.database)"
        var tls = PostgresClient.Configuration.TLS.disable
        if let caFile = settings.caFile {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(caFile)
            configuration.minimumTLSVersion = .tlsv12
            do {
                tls = .require(try NIOSSLContext(configuration: configuration).configuration)
            } catch {
                throw CentralError.database(target: target, reason: "the CA file \(caFile) cannot be used: \(error)")
            }
        }
        var configuration = PostgresClient.Configuration(
            host: postgres.host, port: postgres.port, username: postgres.username, password: try settings.password(),
            database: postgres.database, tls: tls)
        configuration.options.maximumConnections = settings.maxConnections
        configuration.options.connectTimeout = .seconds(settings.connectTimeoutSeconds)
        // Each node's sessions are recognisable in pg_stat_activity.
        configuration.options.additionalStartupParameters = [("application_name", "tally-central pid \(getpid())")]
        let store = PostgresCentralStore(client: PostgresClient(configuration: configuration, backgroundLogger: logger), target: target, waitLimit: .seconds(settings.connectTimeoutSeconds), maxConnections: settings.maxConnections, zones: zones, logger: logger)
        do {
            try await store.prepareSchema(within: .seconds(settings.connectTimeoutSeconds))
        } catch let failed as PostgresTransactionError where failed.closureError is CentralError {
            throw failed.closureError!
        } catch let error as CentralError {
            throw error
        } catch {
            throw CentralError.database(target: target, reason: Self.describe(error))
        }
        return store
    }

    struct NoAnswer: Error, CustomStringConvertible {
        let seconds: Int64
        var description: String { "no answer within \(seconds) seconds" }
    }

    /// One line for a database error: the server's message, or what stopped the connection.
    static func describe(_ error: any Error) -> String {
        if let failed = error as? PostgresTransactionError, let cause = failed.beginError ?? failed.closureError ?? failed.commitError {
            return describe(cause)
        }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return "\(underlying)" }
        return "\(error.code)"
    }

    /// Creates the tables in an empty database, under an advisory lock so nodes starting together take
    /// turns; gives up when the database does not answer within `limit` (the pool would keep retrying).
    private func prepareSchema(within limit: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.prepareSchema() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw NoAnswer(seconds: limit.components.seconds)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func prepareSchema() async throws {
        try await client.withTransaction(logger: logger) { db in
            try await db.query("SELECT pg_advisory_xact_lock(7746216)", logger: logger)
            let exists = try await db.query("SELECT to_regclass('tally_schema') IS NOT NULL", logger: logger).collect().first?.decode(Bool.self) ?? false
            if exists {
                let version = try await db.query("SELECT MAX(version) FROM tally_schema", logger: logger).collect().first?.decode(Int?.self) ?? 0
                guard version <= Self.schemaVersion else {
                    throw CentralError.schemaTooNew(target: target, found: version, known: Self.schemaVersion)
                }
                return
            }
            for statement in Self.schema {
                try await db.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await db.query("INSERT INTO tally_schema (version) VALUES (\(Self.schemaVersion))", logger: logger)
        }
    }

    /// The tables: as SQLite's, with PostgreSQL's types, and `hits` partitioned by time.
    static let schema: [String] = [
        "CREATE TABLE tally_schema (version INTEGER NOT NULL)",
        """
        CREATE TABLE batches (
            edge_id TEXT NOT NULL,
            stream TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            received_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            hit_count BIGINT NOT NULL,
            policy_digest TEXT NOT NULL,
            content_sha256 TEXT NOT NULL,
            PRIMARY KEY (edge_id, stream, sequence)
        )
        """,
        """
        CREATE TABLE hits (
            edge_id TEXT NOT NULL,
            stream TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            policy_digest TEXT NOT NULL,
            \(zip(Hit.columns, Hit.columnTypes).map { name, type -> String in
                switch type {
                case .requiredInteger: "\(name) BIGINT NOT NULL"
                case .integer: "\(name) BIGINT"
                case .real: "\(name) DOUBLE PRECISION"
                case .requiredText: "\(name) TEXT NOT NULL"
                case .text: "\(name) TEXT"
                }
            }.joined(separator: ",\n    "))
        ) PARTITION BY RANGE (ts)
        """,
        "CREATE INDEX hits_by_site_time ON hits (site_id, ts)",
        "CREATE TABLE orders (site_id BIGINT NOT NULL, order_id TEXT NOT NULL, ts BIGINT NOT NULL, PRIMARY KEY (site_id, order_id))",
        """
        CREATE TABLE dirty_days (
            site_id BIGINT NOT NULL,
            day TEXT NOT NULL,
            generation BIGINT NOT NULL DEFAULT 0,
            claimed_until BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (site_id, day)
        )
        """,
        """
        CREATE TABLE daily_rows (
            site_id BIGINT NOT NULL,
            day TEXT NOT NULL,
            report TEXT NOT NULL,
            label TEXT NOT NULL,
            visits BIGINT NOT NULL,
            actions BIGINT NOT NULL,
            bounces BIGINT NOT NULL,
            visit_seconds BIGINT NOT NULL,
            pageviews BIGINT NOT NULL,
            unique_pageviews BIGINT NOT NULL,
            hits BIGINT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            items BIGINT NOT NULL,
            carts BIGINT NOT NULL,
            PRIMARY KEY (site_id, report, day, label)
        )
        """,
        """
        CREATE TABLE daily_visitors (
            site_id BIGINT NOT NULL,
            day TEXT NOT NULL,
            unique_visitors BIGINT NOT NULL,
            bot_hits BIGINT NOT NULL,
            sketch BYTEA NOT NULL,
            PRIMARY KEY (site_id, day)
        )
        """,
        "CREATE TABLE purge_state (site_id BIGINT PRIMARY KEY, purged_before TEXT NOT NULL)",
        """
        CREATE TABLE api_tokens (
            id BIGSERIAL PRIMARY KEY,
            name TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            sites TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked_at BIGINT,
            last_used_at BIGINT
        )
        """,
        """
        CREATE TABLE send_log (
            schedule TEXT NOT NULL,
            period_start TEXT NOT NULL,
            period_end TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            next_attempt_at BIGINT NOT NULL DEFAULT 0,
            message_id TEXT NOT NULL,
            sent_at BIGINT,
            last_error TEXT,
            PRIMARY KEY (schedule, period_start)
        )
        """,
        "CREATE TABLE audit_log (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE TABLE health_probe (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at BIGINT NOT NULL)",
        "INSERT INTO health_probe (id, checked_at) VALUES (1, 0)",
    ]

    // MARK: Batches

    public func store(_ header: BatchHeader, hits: [Hit], contentSHA256: String, receivedAt: Date) async throws -> StoreOutcome {
        do {
            return try await storeOnce(header, hits: hits, contentSHA256: contentSHA256, receivedAt: receivedAt)
        } catch where Self.sqlState(of: error) == "23514" {
            // No partition for a hit: another node's purge dropped one this node had seen. Forget what it
            // knew of partitions, create the missing ones again, and store the batch.
            partitions.withLock { $0.removeAll() }
            return try await storeOnce(header, hits: hits, contentSHA256: contentSHA256, receivedAt: receivedAt)
        }
    }

    /// The SQLSTATE of a server error, however wrapped.
    static func sqlState(of error: any Error) -> String? {
        if let failed = error as? PostgresTransactionError, let cause = failed.closureError ?? failed.commitError {
            return sqlState(of: cause)
        }
        return (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    private func storeOnce(_ header: BatchHeader, hits: [Hit], contentSHA256: String, receivedAt: Date) async throws -> StoreOutcome {
        try await ensurePartitions(for: hits)
        let marks = DirtyDay.days(of: hits, zones: zones)
        return try await transaction { [self] db in
            // The batch's key first: a second node storing the same batch waits here for the first one's
            // commit and then finds it stored. The same statement finds the edge's previous sequence (the
            // new row is not visible to it, and is not asked for).
            let answer = try await db.rows("""
                WITH inserted AS (
                    INSERT INTO batches (edge_id, stream, sequence, received_at, created_at, hit_count, policy_digest, content_sha256)
                    VALUES (\(header.edgeID), \(header.stream), \(header.sequence), \(receivedAt.millisecondsSince1970), \(header.createdAt),
                            \(header.hitCount), \(header.policyDigest), \(contentSHA256))
                    ON CONFLICT (edge_id, stream, sequence) DO NOTHING RETURNING 1)
                SELECT (SELECT COUNT(*) FROM inserted),
                       (SELECT MAX(sequence) FROM batches WHERE edge_id = \(header.edgeID) AND stream = \(header.stream) AND sequence < \(header.sequence))
                """, logger: logger).first
            guard let answer, try answer.int(0) == 1 else {
                let existing = try await db.query("""
                    SELECT content_sha256 FROM batches WHERE edge_id = \(header.edgeID) AND stream = \(header.stream) AND sequence = \(header.sequence)
                    """, logger: logger).collect().first?.decode(String.self)
                return existing == contentSHA256 ? .duplicate : .conflict
            }
            let previous = try answer.optionalInt64(1) ?? 0
            if !hits.isEmpty {
                try await db.copyFrom(table: "hits", columns: ["edge_id", "stream", "sequence", "policy_digest"] + Hit.columns, logger: logger) { writer in
                    var copy = CopyText()
                    for index in hits.indices {  // by index: each hit is read where it lies, not copied
                        copy.text(header.edgeID)
                        copy.text(header.stream)
                        copy.integer(header.sequence)
                        copy.text(header.policyDigest)
                        hits[index].writeColumns(to: &copy)
                        copy.endRow()
                        try await copy.send(to: writer)
                    }
                    try await copy.send(to: writer, over: 0)
                }
            }
            for hit in hits where hit.kind == .ecommerceOrder {
                guard let order = hit.orderID else { continue }
                try await db.query("""
                    INSERT INTO orders (site_id, order_id, ts) VALUES (\(hit.siteID), \(order), \(hit.timestamp)) ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            if !marks.isEmpty { try await db.query(Self.markDirty(marks), logger: logger) }
            return .stored(hits: hits.count, missingBefore: header.sequence - previous - 1)
        }
    }

    /// Marks days to aggregate again, in one statement, in (site, day) order: two nodes' transactions
    /// then never wait for each other's marks crosswise.
    static func markDirty(_ marks: Set<DirtyDay>) -> PostgresQuery {
        let sorted = marks.sorted { ($0.site, $0.day) < ($1.site, $1.day) }
        return """
            INSERT INTO dirty_days (site_id, day)
            SELECT site_id, day FROM unnest(\(sorted.map { Int64($0.site) }), \(sorted.map(\.day.description))) WITH ORDINALITY AS m (site_id, day, n)
            ORDER BY n
            ON CONFLICT (site_id, day) DO UPDATE SET generation = dirty_days.generation + 1, claimed_until = 0
            """
    }

    /// Creates the UTC-day partitions the hits fall in, each in a short transaction of its own (creating
    /// a partition locks the parent table), under an advisory lock so two nodes do not race.
    private func ensurePartitions(for hits: [Hit]) async throws {
        let days = Set(hits.map { Self.utcDay($0.timestamp) })
        let missing = partitions.withLock { days.subtracting($0) }
        for day in missing.sorted() {
            let (start, end) = (day * 86_400_000, (day + 1) * 86_400_000)
            try await transaction { [self] db in
                try await db.query("SELECT pg_advisory_xact_lock(7746217)", logger: logger)
                try await db.query("""
                    CREATE TABLE IF NOT EXISTS \(unescaped: Self.partitionName(day)) PARTITION OF hits
                    FOR VALUES FROM (\(unescaped: String(start))) TO (\(unescaped: String(end)))
                    """, logger: logger)
            }
            _ = partitions.withLock { $0.insert(day) }
        }
    }

    /// A partition this node dropped (after the transaction that drops it, a late hit creates it again).
    func forgetPartition(_ day: Int64) {
        _ = partitions.withLock { $0.remove(day) }
    }

    static func utcDay(_ timestamp: Int64) -> Int64 {
        timestamp >= 0 ? timestamp / 86_400_000 : (timestamp - 86_399_999) / 86_400_000
    }

    /// `hits_d20261028` (`hits_m…` before 1970).
    static func partitionName(_ day: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(day) * 86_400)
        let text = LocalDay(containing: date, in: .gmt).description.replacingOccurrences(of: "-", with: "")
        return "hits_\(day < 0 ? "m" : "d")\(text)"
    }

    public func probe(now: Date) async throws {
        try await execute("UPDATE health_probe SET checked_at = \(now.millisecondsSince1970) WHERE id = 1")
    }

    public func edgeContacts() async throws -> [EdgeContact] {
        try await rows("""
            SELECT edge_id, stream, MAX(sequence), MAX(received_at), COUNT(*) FROM batches
            GROUP BY edge_id, stream ORDER BY edge_id, MAX(received_at)
            """).map {
            EdgeContact(edgeID: try $0.string(0), stream: try $0.string(1), lastSequence: try $0.int64(2),
                        lastContact: Date(millisecondsSince1970: try $0.int64(3)), batches: try $0.int(4))
        }
    }

    public func counts() async throws -> (hits: Int, batches: Int) {
        let row = try await rows("SELECT (SELECT COUNT(*) FROM hits), (SELECT COUNT(*) FROM batches)")[0]
        return (try row.int(0), try row.int(1))
    }

    // MARK: Audit log

    public func audit(_ event: String, detail: String, at date: Date) async throws {
        try await execute("INSERT INTO audit_log (at, event, detail) VALUES (\(date.millisecondsSince1970), \(event), \(detail))")
    }

    static func audit(_ db: PostgresConnection, _ event: String, _ detail: String, _ at: Date, logger: Logger) async throws {
        try await db.query("INSERT INTO audit_log (at, event, detail) VALUES (\(at.millisecondsSince1970), \(event), \(detail))", logger: logger)
    }

    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await rows("SELECT at, event, detail FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT \(Int64(min(limit, Int(Int64.max))))) AS newest ORDER BY id")
            .map { AuditEntry(at: Date(millisecondsSince1970: try $0.int64(0)), event: try $0.string(1), detail: try $0.string(2)) }
    }

    // MARK: Reaching the database

    /// Runs a query outside any explicit transaction and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PGRow] {
        try await connection { [self] db in try await db.rows(query, logger: logger) }
    }

    /// Runs a statement outside any explicit transaction.
    func execute(_ query: PostgresQuery) async throws {
        try await connection { [self] db in _ = try await db.query(query, logger: logger) }
    }

    /// `body` in one transaction on a pooled connection (see `bounded`).
    func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await bounded { [self] leased in
            try await client.withTransaction(logger: logger) { db in
                leased.value.store(true, ordering: .relaxed)
                return try await body(db)
            }
        }
    }

    /// `body` on a pooled connection (see `bounded`).
    func connection<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await bounded { [self] leased in
            try await client.withConnection { db in
                leased.value.store(true, ordering: .relaxed)
                return try await body(db)
            }
        }
    }

    /// Every operation reaches the database through here. While the database is away the pool keeps
    /// retrying to connect and queues what waits for a connection; an operation that has no connection
    /// after `waitLimit` gives up, so a request is answered 503 within it. Work that has its connection is
    /// not cut short: a lost connection fails its queries at once, and a long aggregation may run.
    /// A lost or overloaded database surfaces as `CentralError.storeUnavailable`.
    private func bounded<Result: Sendable>(_ operation: @escaping @Sendable (LeaseFlag) async throws -> Result) async throws -> Result {
        let leased = LeaseFlag()
        let limit = waitLimit
        do {
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask { try await operation(leased) }
                group.addTask {
                    try await Task.sleep(for: limit)
                    if leased.value.load(ordering: .relaxed) { return nil }
                    throw NoAnswer(seconds: limit.components.seconds)
                }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    if let result = outcome { return result }
                }
                throw CancellationError()
            }
        } catch {
            throw Self.unavailable(error).map { CentralError.storeUnavailable(target: target, reason: $0) } ?? error
        }
    }

    /// Why the database cannot be used now, when `error` says it is unreachable, restarting or overloaded
    /// (rather than a fault of the statement): connection failures, and the server's SQLSTATE classes 08
    /// (connection exception), 53 (insufficient resources) and 57 (operator intervention, e.g. shutdown).
    static func unavailable(_ error: any Error) -> String? {
        switch error {
        case let failed as PostgresTransactionError:
            guard let cause = failed.beginError ?? failed.closureError ?? failed.commitError else { return nil }
            return unavailable(cause)
        case is CentralError, is PostgresDecodingError, is CancellationError:
            return nil
        case let error as PSQLError:
            if let state = error.serverInfo?[.sqlState] {
                return ["08", "53", "57"].contains(String(state.prefix(2))) ? describe(error) : nil
            }
            let faults: [PSQLError.Code] = [.tooManyParameters, .invalidCommandTag, .unexpectedBackendMessage, .messageDecodingFailure, .queryCancelled]
            return faults.contains(error.code) ? nil : describe(error)
        default:
            // The pool's own errors (its circuit breaker), the wait limit, and socket errors.
            return describe(error)
        }
    }
}

/// Set once the operation holds a connection.
final class LeaseFlag: Sendable {
    let value = Atomic<Bool>(false)
}

extension PostgresConnection {
    /// The query's rows, read to the end.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PGRow] {
        try await self.query(query, logger: logger).collect().map { PGRow(cells: $0.makeRandomAccess()) }
    }
}

/// A result row, read by position.
struct PGRow: ColumnReader {
    let cells: PostgresRandomAccessRow

    func integer(_ index: Int) -> Int64? { (try? cells[index].decode(Int64?.self)) ?? nil }
    func real(_ index: Int) -> Double? { (try? cells[index].decode(Double?.self)) ?? nil }
    func text(_ index: Int) -> String? { (try? cells[index].decode(String?.self)) ?? nil }

    func int64(_ index: Int) throws -> Int64 { try cells[index].decode(Int64.self) }
    func int(_ index: Int) throws -> Int { try cells[index].decode(Int.self) }
    func string(_ index: Int) throws -> String { try cells[index].decode(String.self) }
    func optionalInt64(_ index: Int) throws -> Int64? { try cells[index].decode(Int64?.self) }
}

/// Rows in PostgreSQL's COPY text format (tab-separated columns, `\N` for NULL, backslash escapes),
/// written value by value into one byte array that goes to the server in pieces of about 64 KiB.
struct CopyText: ColumnWriter {
    private var out: [UInt8] = []
    private var atRowStart = true

    private static let hexDigits = Array("0123456789abcdef".utf8)

    init() { out.reserveCapacity(1 << 17) }

    mutating func integer(_ value: Int64?) {
        separate()
        guard let value else { return null() }
        out.append(contentsOf: String(value).utf8)
    }

    mutating func real(_ value: Double?) {
        separate()
        guard let value else { return null() }
        out.append(contentsOf: (value.isFinite ? "\(value)" : "0").utf8)
    }

    mutating func text(_ value: String?) {
        separate()
        guard var value else { return null() }
        value.withUTF8 { text in
            // Most values need no escape: written whole.
            guard text.contains(where: { $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
                out.append(contentsOf: text)
                return
            }
            for byte in text {
                switch byte {
                case UInt8(ascii: "\\"): escape(UInt8(ascii: "\\"))
                case UInt8(ascii: "\t"): escape(UInt8(ascii: "t"))
                case UInt8(ascii: "\n"): escape(UInt8(ascii: "n"))
                case UInt8(ascii: "\r"): escape(UInt8(ascii: "r"))
                case 0: continue  // PostgreSQL text cannot hold NUL; the edge never stores one.
                default: out.append(byte)
                }
            }
        }
    }

    /// bytea's hex input, its backslash doubled for COPY.
    mutating func bytes(_ value: Data?) {
        separate()
        guard let value else { return null() }
        out.append(contentsOf: "\\\\x".utf8)
        for byte in value {
            out.append(Self.hexDigits[Int(byte >> 4)])
            out.append(Self.hexDigits[Int(byte & 0x0F)])
        }
    }

    mutating func endRow() {
        out.append(UInt8(ascii: "\n"))
        atRowStart = true
    }

    mutating func row(_ values: [ColumnValue]) {
        for value in values {
            switch value {
            case let .integer(n): integer(n)
            case let .real(x): real(x)
            case let .text(s): text(s)
            case let .bytes(data): bytes(data)
            }
        }
        endRow()
    }

    /// Sends what has been written once it has grown past `threshold` bytes (0: whatever there is).
    mutating func send(to writer: PostgresCopyFromWriter, over threshold: Int = 1 << 16) async throws {
        guard out.count > threshold else { return }
        try await writer.write(ByteBuffer(bytes: out))
        out.removeAll(keepingCapacity: true)
    }

    private mutating func null() {
        escape(UInt8(ascii: "N"))
    }

    /// A backslash and the letter after it.
    private mutating func escape(_ letter: UInt8) {
        out.append(UInt8(ascii: "\\"))
        out.append(letter)
    }

    private mutating func separate() {
        if atRowStart { atRowStart = false } else { out.append(UInt8(ascii: "\t")) }
    }
}
