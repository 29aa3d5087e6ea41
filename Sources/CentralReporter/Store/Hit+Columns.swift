import Foundation
import TallyCore

/// Central keeps each hit as typed columns, one per field of the record, named as in its canonical JSON:
/// aggregation and the reports read plain columns rather than parsing a document per hit, and a privacy
/// officer can see with `sqlite3` or `psql` exactly what is kept. Both backends store the same columns:
/// integers (booleans as 0 and 1), reals and text.
extension Hit {
    /// The record's columns in `hits`, in the order of `writeColumns(to:)` and `init(columns:)`.
    static let columns = [
        "site_id", "ts", "kind", "aggregate_only", "is_bot", "visitor_id", "user_id", "new_visit", "pv_id",
        "url", "title", "ref_type", "ref_name", "ref_url",
        "cmp_name", "cmp_source", "cmp_medium", "cmp_keyword", "cmp_content",
        "country", "region", "city", "masked_ip",
        "browser", "browser_version", "os", "os_version", "device", "resolution", "language", "local_time",
        "e_c", "e_a", "e_n", "e_v", "search", "search_cat", "search_count", "link", "goal_id", "revenue",
        "c_n", "c_p", "c_t", "c_i", "ec_id", "ec_items", "ec_st", "ec_tx", "ec_sh", "ec_dt",
        "pk_sku", "pk_name", "pk_cat", "pk_price", "dims",
        "brand", "bot_name", "bot_cat",
    ]

    /// How many of `columns` the first typed layout had (SQLite store migration v4), how many there were
    /// after v7 (ecommerce and content) and after v8 (`dims`); device brand and bot name and category came with v9.
    static let firstLayoutCount = 41
    static let v7LayoutCount = 55
    static let v8LayoutCount = 56

    /// What each column holds, in `columns` order.
    enum ColumnType: Sendable { case requiredInteger, integer, real, requiredText, text }

    static let columnTypes: [ColumnType] = columns.map { name in
        switch name {
        case "site_id", "ts", "aggregate_only", "is_bot", "new_visit": .requiredInteger
        case "kind": .requiredText
        case "search_count", "goal_id": .integer
        case "e_v", "revenue", "ec_st", "ec_tx", "ec_sh", "ec_dt", "pk_price": .real
        default: .text
        }
    }

    /// Hands the record's values to `writer` in `columns` order, with no array in between (central's bulk
    /// ingest writes them straight into PostgreSQL's COPY stream).
    func writeColumns<Writer: ColumnWriter>(to writer: inout Writer) {
        func flag(_ value: Bool) -> Int64 { value ? 1 : 0 }
        writer.integer(Int64(siteID)); writer.integer(timestamp); writer.text(kind.rawValue); writer.integer(flag(aggregateOnly))
        writer.integer(flag(isBot)); writer.text(visitorID); writer.text(userID); writer.integer(flag(newVisit)); writer.text(pageviewID)
        writer.text(url); writer.text(title); writer.text(referrerType?.rawValue); writer.text(referrerName)
        writer.text(referrerURL); writer.text(campaignName); writer.text(campaignSource); writer.text(campaignMedium)
        writer.text(campaignKeyword); writer.text(campaignContent); writer.text(country); writer.text(region)
        writer.text(city); writer.text(maskedIP); writer.text(browser); writer.text(browserVersion); writer.text(os)
        writer.text(osVersion); writer.text(device?.rawValue); writer.text(resolution); writer.text(language)
        writer.text(localTime); writer.text(eventCategory); writer.text(eventAction); writer.text(eventName)
        writer.real(eventValue); writer.text(searchKeyword); writer.text(searchCategory); writer.integer(searchCount.map(Int64.init))
        writer.text(linkURL); writer.integer(goalID.map(Int64.init)); writer.real(revenue)
        writer.text(contentName); writer.text(contentPiece); writer.text(contentTarget); writer.text(contentInteraction)
        writer.text(orderID); writer.text(items); writer.real(subtotal); writer.real(tax); writer.real(shipping)
        writer.real(discount); writer.text(productSKU); writer.text(productName); writer.text(productCategory)
        writer.real(productPrice); writer.text(dimensions)
        writer.text(deviceBrand); writer.text(botName); writer.text(botCategory)
    }

    /// The record's values in `columns` order.
    var columnValues: [ColumnValue] {
        var list = ColumnValueList()
        writeColumns(to: &list)
        return list.values
    }

    /// Reads a hit from a row whose first columns are `columns`, in order.
    init(columns row: some ColumnReader) {
        self.init(siteID: Int(row.integer(0) ?? 0), kind: HitKind(rawValue: row.text(2) ?? ""), timestamp: row.integer(1) ?? 0)
        aggregateOnly = row.integer(3) == 1
        isBot = row.integer(4) == 1
        visitorID = row.text(5)
        userID = row.text(6)
        newVisit = row.integer(7) == 1
        pageviewID = row.text(8)
        url = row.text(9)
        title = row.text(10)
        referrerType = row.text(11).map(ReferrerType.init(rawValue:))
        referrerName = row.text(12)
        referrerURL = row.text(13)
        campaignName = row.text(14)
        campaignSource = row.text(15)
        campaignMedium = row.text(16)
        campaignKeyword = row.text(17)
        campaignContent = row.text(18)
        country = row.text(19)
        region = row.text(20)
        city = row.text(21)
        maskedIP = row.text(22)
        browser = row.text(23)
        browserVersion = row.text(24)
        os = row.text(25)
        osVersion = row.text(26)
        device = row.text(27).map(DeviceType.init(rawValue:))
        resolution = row.text(28)
        language = row.text(29)
        localTime = row.text(30)
        eventCategory = row.text(31)
        eventAction = row.text(32)
        eventName = row.text(33)
        eventValue = row.real(34)
        searchKeyword = row.text(35)
        searchCategory = row.text(36)
        searchCount = row.integer(37).map(Int.init)
        linkURL = row.text(38)
        goalID = row.integer(39).map(Int.init)
        revenue = row.real(40)
        contentName = row.text(41)
        contentPiece = row.text(42)
        contentTarget = row.text(43)
        contentInteraction = row.text(44)
        orderID = row.text(45)
        items = row.text(46)
        subtotal = row.real(47)
        tax = row.real(48)
        shipping = row.real(49)
        discount = row.real(50)
        productSKU = row.text(51)
        productName = row.text(52)
        productCategory = row.text(53)
        productPrice = row.real(54)
        dimensions = row.text(55)
        deviceBrand = row.text(56)
        botName = row.text(57)
        botCategory = row.text(58)
    }
}

/// A column's value as both backends store it.
enum ColumnValue: Sendable, Equatable {
    case integer(Int64?)
    case real(Double?)
    case text(String?)
    /// Bytes (the HyperLogLog sketches); no hit field is one.
    case bytes(Data?)
}

/// Receives a row's values one by one, in column order.
protocol ColumnWriter {
    mutating func integer(_ value: Int64?)
    mutating func real(_ value: Double?)
    mutating func text(_ value: String?)
}

/// Collects a row's values in an array.
struct ColumnValueList: ColumnWriter {
    var values: [ColumnValue] = []
    mutating func integer(_ value: Int64?) { values.append(.integer(value)) }
    mutating func real(_ value: Double?) { values.append(.real(value)) }
    mutating func text(_ value: String?) { values.append(.text(value)) }
}

/// Reads a stored row's columns by position.
protocol ColumnReader {
    func integer(_ index: Int) -> Int64?
    func real(_ index: Int) -> Double?
    func text(_ index: Int) -> String?
}
