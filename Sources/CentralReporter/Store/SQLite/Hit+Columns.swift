import GRDB
import TallyCore

/// Central keeps each hit as typed columns, one per field of the record, named as in its canonical JSON:
/// aggregation and the reports read plain columns rather than parsing a document per hit, and a privacy
/// officer can see with `sqlite3` exactly what is kept.
extension Hit {
    /// The record's columns in `hits`, in the order of `columnDatabaseValues` and `init(row:)`.
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

    /// How many of `columns` the first typed layout had (store migration v4), how many there were after
    /// v7 (ecommerce and content) and after v8 (`dims`); device brand and bot name and category came with v9.
    static let firstLayoutCount = 41
    static let v7LayoutCount = 55
    static let v8LayoutCount = 56

    /// The SQL declaration of each column, in `columns` order.
    static let columnDeclarations: [String] = columns.map { name in
        switch name {
        case "site_id", "ts", "aggregate_only", "is_bot", "new_visit": "\(name) INTEGER NOT NULL"
        case "kind": "kind TEXT NOT NULL"
        case "search_count", "goal_id": "\(name) INTEGER"
        case "e_v", "revenue", "ec_st", "ec_tx", "ec_sh", "ec_dt", "pk_price": "\(name) REAL"
        default: "\(name) TEXT"
        }
    }

    /// The record's values in `columns` order.
    var columnDatabaseValues: [DatabaseValue] {
        [
            siteID.databaseValue, timestamp.databaseValue, kind.rawValue.databaseValue, aggregateOnly.databaseValue,
            isBot.databaseValue, visitorID.databaseValue, userID.databaseValue, newVisit.databaseValue, pageviewID.databaseValue,
            url.databaseValue, title.databaseValue, referrerType?.rawValue.databaseValue ?? .null, referrerName.databaseValue,
            referrerURL.databaseValue, campaignName.databaseValue, campaignSource.databaseValue, campaignMedium.databaseValue,
            campaignKeyword.databaseValue, campaignContent.databaseValue, country.databaseValue, region.databaseValue,
            city.databaseValue, maskedIP.databaseValue, browser.databaseValue, browserVersion.databaseValue, os.databaseValue,
            osVersion.databaseValue, device?.rawValue.databaseValue ?? .null, resolution.databaseValue, language.databaseValue,
            localTime.databaseValue, eventCategory.databaseValue, eventAction.databaseValue, eventName.databaseValue,
            eventValue.databaseValue, searchKeyword.databaseValue, searchCategory.databaseValue, searchCount.databaseValue,
            linkURL.databaseValue, goalID.databaseValue, revenue.databaseValue,
            contentName.databaseValue, contentPiece.databaseValue, contentTarget.databaseValue, contentInteraction.databaseValue,
            orderID.databaseValue, items.databaseValue, subtotal.databaseValue, tax.databaseValue, shipping.databaseValue,
            discount.databaseValue, productSKU.databaseValue, productName.databaseValue, productCategory.databaseValue,
            productPrice.databaseValue, dimensions.databaseValue,
            deviceBrand.databaseValue, botName.databaseValue, botCategory.databaseValue,
        ]
    }

    /// Reads a hit from a row whose first columns are `columns`, in order.
    init(row: Row) {
        self.init(siteID: row[0], kind: HitKind(rawValue: row[2]), timestamp: row[1])
        aggregateOnly = row[3]
        isBot = row[4]
        visitorID = row[5]
        userID = row[6]
        newVisit = row[7]
        pageviewID = row[8]
        url = row[9]
        title = row[10]
        referrerType = (row[11] as String?).map(ReferrerType.init(rawValue:))
        referrerName = row[12]
        referrerURL = row[13]
        campaignName = row[14]
        campaignSource = row[15]
        campaignMedium = row[16]
        campaignKeyword = row[17]
        campaignContent = row[18]
        country = row[19]
        region = row[20]
        city = row[21]
        maskedIP = row[22]
        browser = row[23]
        browserVersion = row[24]
        os = row[25]
        osVersion = row[26]
        device = (row[27] as String?).map(DeviceType.init(rawValue:))
        resolution = row[28]
        language = row[29]
        localTime = row[30]
        eventCategory = row[31]
        eventAction = row[32]
        eventName = row[33]
        eventValue = row[34]
        searchKeyword = row[35]
        searchCategory = row[36]
        searchCount = row[37]
        linkURL = row[38]
        goalID = row[39]
        revenue = row[40]
        contentName = row[41]
        contentPiece = row[42]
        contentTarget = row[43]
        contentInteraction = row[44]
        orderID = row[45]
        items = row[46]
        subtotal = row[47]
        tax = row[48]
        shipping = row[49]
        discount = row[50]
        productSKU = row[51]
        productName = row[52]
        productCategory = row[53]
        productPrice = row[54]
        dimensions = row[55]
        deviceBrand = row[56]
        botName = row[57]
        botCategory = row[58]
    }
}
