import GRDB
import GRDBSQLite
import TallyCore

extension Hit {
    /// The SQLite declaration of each column, in `columns` order.
    static let columnDeclarations: [String] = zip(columns, columnTypes).map { name, type in
        switch type {
        case .requiredInteger: "\(name) INTEGER NOT NULL"
        case .integer: "\(name) INTEGER"
        case .real: "\(name) REAL"
        case .requiredText: "\(name) TEXT NOT NULL"
        case .text: "\(name) TEXT"
        }
    }

    init(row: Row) { self.init(columns: row) }
}

extension Row: ColumnReader {
    func integer(_ index: Int) -> Int64? { self[index] }
    func real(_ index: Int) -> Double? { self[index] }
    func text(_ index: Int) -> String? { self[index] }
}

/// Binds a row's values straight to an SQLite statement's parameters, from `first` on, without an
/// array of boxed values per row (central's ingest binds some fifty per hit). Text is copied by SQLite.
struct SQLiteBinder: ColumnWriter {
    let statement: SQLiteStatement
    var index: CInt

    mutating func integer(_ value: Int64?) {
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
        index += 1
    }

    mutating func real(_ value: Double?) {
        if let value { sqlite3_bind_double(statement, index, value) } else { sqlite3_bind_null(statement, index) }
        index += 1
    }

    mutating func text(_ value: String?) {
        if var value {
            let bound = value.withUTF8 { bytes -> Bool in
                guard let base = bytes.baseAddress else { return false }
                sqlite3_bind_text(statement, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), CInt(bytes.count), SQLITE_TRANSIENT)
                return true
            }
            // An empty string has no bytes to point at; it is still text, not NULL.
            if !bound { sqlite3_bind_text(statement, index, "", 0, SQLITE_TRANSIENT) }
        } else {
            sqlite3_bind_null(statement, index)
        }
        index += 1
    }

    /// SQLite's "copy the value now" destructor.
    private let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
