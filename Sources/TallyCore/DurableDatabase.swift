import GRDB
import GRDBSQLite

/// The SQLite files that hold what Tally has acknowledged (the edge's buffer, central's store): WAL, so
/// readers never block the writer, and `synchronous = FULL`, so every commit reaches the disk before
/// the acknowledgement that depends on it (https://sqlite.org/pragma.html#pragma_synchronous).
public enum DurableDatabase {
    /// Opens (creating it with mode 0600 if needed) a WAL database whose writer syncs every commit.
    ///
    /// The setting is made on the writer after the pool is open: `DatabasePool` turns WAL on after
    /// `prepareDatabase` has run and sets `synchronous = NORMAL` with it, which syncs only at checkpoints,
    /// so a commit could be lost with the power after it was acknowledged.
    public static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        PrivateDatabaseFile.prepare(path)
        let pool = try DatabasePool(path: path, configuration: configuration)
        let level = try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        guard level == 2 else {
            throw DatabaseError(message: "SQLite kept synchronous = \(level.map(String.init) ?? "unknown") instead of FULL (2)")
        }
        return pool
    }
}

extension Database {
    /// Runs a statement whose parameters were bound directly through SQLite (the bulk inserts, which
    /// skip GRDB's boxed arguments), resets it for the next row, and throws SQLite's error if it failed.
    public func stepBound(_ statement: SQLiteStatement) throws {
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)))
        }
    }

    /// Runs `body` in one `IMMEDIATE` transaction and commits it, or rolls it back and rethrows. `BEGIN`
    /// and `COMMIT` are statements prepared once per connection: GRDB's transaction methods parse them
    /// again on every call, which showed on the edge's request path (docs/performance.md).
    public func inPreparedTransaction<T>(_ body: () throws -> T) throws -> T {
        try cachedStatement(sql: "BEGIN IMMEDIATE").execute()
        do {
            let result = try body()
            try cachedStatement(sql: "COMMIT").execute()
            return result
        } catch {
            if isInsideTransaction { try? cachedStatement(sql: "ROLLBACK").execute() }
            throw error
        }
    }
}
