import GRDB
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

    /// The record's values in `columns` order, as GRDB binds them.
    var columnDatabaseValues: [DatabaseValue] {
        columnValues.map { value in
            switch value {
            case let .integer(n): n.databaseValue
            case let .real(x): x.databaseValue
            case let .text(s): s.databaseValue
            case let .bytes(data): data.databaseValue
            }
        }
    }

    init(row: Row) { self.init(columns: row) }
}

extension Row: ColumnReader {
    func integer(_ index: Int) -> Int64? { self[index] }
    func real(_ index: Int) -> Double? { self[index] }
    func text(_ index: Int) -> String? { self[index] }
}
