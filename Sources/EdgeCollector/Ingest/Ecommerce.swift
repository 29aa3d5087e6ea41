import Foundation
import TallyCore

/// One line of an order or cart, from Matomo's `ec_items`: `[[sku, name, category, price, quantity], …]`,
/// where the category is a string or an array of up to five, and price and quantity may be numbers or
/// numeric strings (MatomoTracker.php and piwik.js send both).
public struct EcommerceItem: Codable, Sendable, Equatable {
    public var sku: String
    public var name: String?
    public var categories: [String]
    public var price: Double
    public var quantity: Int

    /// Matomo keeps up to five categories per product.
    static let maxCategories = 5

    /// The items of `ec_items`, or `nil` when the value is not that JSON (the hit is kept without items).
    static func parse(_ text: String) -> [EcommerceItem]? {
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else { return nil }
        var items: [EcommerceItem] = []
        for element in array {
            guard let fields = element as? [Any], let sku = fields.first.flatMap(Self.text), !sku.isEmpty else { return nil }
            let name = fields.count > 1 ? Self.text(fields[1]) : nil
            var categories: [String] = []
            if fields.count > 2 {
                if let list = fields[2] as? [Any] {
                    categories = list.compactMap(Self.text)
                } else if let one = Self.text(fields[2]) {
                    categories = [one]
                }
            }
            categories = Array(categories.filter { !$0.isEmpty }.prefix(maxCategories))
            let price = fields.count > 3 ? Self.number(fields[3]) ?? 0 : 0
            let quantity = fields.count > 4 ? Self.number(fields[4]).map { Int(max(0, min($0, 1e9))) } ?? 1 : 1
            guard Hit.isStorable(price) else { return nil }
            items.append(EcommerceItem(sku: sku, name: name.flatMap { $0.isEmpty ? nil : $0 }, categories: categories, price: price, quantity: quantity))
        }
        return items
    }

    private static func text(_ value: Any) -> String? {
        switch value {
        case let string as String: string.trimmingCharacters(in: .whitespaces)
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }

    private static func number(_ value: Any) -> Double? {
        switch value {
        case let string as String: Double(string.trimmingCharacters(in: .whitespaces))
        case let number as NSNumber: number.doubleValue
        default: nil
        }
    }

    /// The canonical JSON the record carries in `ec_items`: keys sorted, so equal carts encode equally.
    static func encoded(_ items: [EcommerceItem]) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(items)).map { String(decoding: $0, as: UTF8.self) }
    }
}
