/// A kind of repair made to incoming data instead of refusing it; counted in the edge's `/metrics`
/// (`tally_edge_input_repairs_total{kind=…}`) and central's logs. An open set, as more repairs come.
public struct InputRepair: OpenSetValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Control characters removed from a text value (TextCleaning).
    public static let controlCharacters = InputRepair(rawValue: "control_characters")
    /// A number that is not finite or outside `Hit.numberRange` was dropped; the hit was kept.
    public static let numberOutOfRange = InputRepair(rawValue: "number_out_of_range")

    /// A `%` not followed by two hex digits, kept as written (as PHP's `urldecode`, and so Matomo, keeps it).
    public static let malformedEscape = InputRepair(rawValue: "malformed_escape")
    /// Bytes that are not UTF-8, each run replaced by U+FFFD.
    public static let invalidUTF8 = InputRepair(rawValue: "invalid_utf8")
    /// A value longer than `max_value_bytes`, cut at a character boundary; or a parameter whose name is
    /// longer than any Matomo parameter's, left out.
    public static let truncated = InputRepair(rawValue: "truncated")
    /// A value Tally cannot use (a malformed `res`, `_id`, `pv_id`, `idgoal`, time of day or `cdt`) was
    /// ignored and the rest of the hit kept, as Matomo ignores it.
    public static let unusableValue = InputRepair(rawValue: "unusable_value")
    /// A `cdt` in the future (the client's clock is ahead): ignored, the hit is tracked at arrival.
    public static let futureTime = InputRepair(rawValue: "future_time")

    /// A custom dimension or custom variable the site does not declare, left out.
    public static let undeclaredDimension = InputRepair(rawValue: "undeclared_dimension")

    /// A `url`, `urlref` or `ua` sent as a Python bytes literal (`b'https://…'`, as asgi-matomo 0.8
    /// sends them), unwrapped.
    public static let bytesLiteral = InputRepair(rawValue: "bytes_literal")

    public static let all: [InputRepair] = [
        .controlCharacters, .numberOutOfRange, .malformedEscape, .invalidUTF8, .truncated, .unusableValue, .futureTime,
        .undeclaredDimension, .bytesLiteral,
    ]
}

extension Hit {
    /// The values an event value or a revenue may take. Anything beyond cannot be a real amount, and sums
    /// of billions of such values stay far inside a Double's finite range.
    public static let numberRange: ClosedRange<Double> = -1e12...1e12

    /// Whether a number may enter a stored record.
    public static func isStorable(_ value: Double) -> Bool { value.isFinite && numberRange.contains(value) }

    /// Applies the rules every stored record keeps, whoever wrote it: no control character in any text,
    /// no number that is not finite or is out of range. Returns what was repaired (usually nothing).
    public mutating func repair() -> [InputRepair] {
        var repairs: [InputRepair] = []
        func note(_ repair: InputRepair) {
            if !repairs.contains(repair) { repairs.append(repair) }
        }
        // Every text field, each named (a key path per field costs more than the check itself).
        func clean(_ field: inout String?) {
            if let text = field, let cleaned = TextCleaning.removingControlCharacters(text) {
                field = cleaned
                note(.controlCharacters)
            }
        }
        clean(&visitorID); clean(&userID); clean(&pageviewID); clean(&url); clean(&title); clean(&referrerName)
        clean(&referrerURL); clean(&campaignName); clean(&campaignSource); clean(&campaignMedium); clean(&campaignKeyword)
        clean(&campaignContent); clean(&country); clean(&region); clean(&city); clean(&maskedIP); clean(&browser)
        clean(&browserVersion); clean(&os); clean(&osVersion); clean(&resolution); clean(&language); clean(&localTime)
        clean(&eventCategory); clean(&eventAction); clean(&eventName); clean(&searchKeyword); clean(&searchCategory)
        clean(&linkURL); clean(&contentName); clean(&contentPiece); clean(&contentTarget); clean(&contentInteraction)
        clean(&orderID); clean(&items); clean(&productSKU); clean(&productName); clean(&productCategory); clean(&dimensions)
        clean(&deviceBrand); clean(&botName); clean(&botCategory)
        // The amounts: event value, revenue and the ecommerce ones.
        func bound(_ field: inout Double?) {
            if let value = field, !Self.isStorable(value) {
                field = nil
                note(.numberOutOfRange)
            }
        }
        bound(&eventValue); bound(&revenue); bound(&subtotal); bound(&tax); bound(&shipping); bound(&discount); bound(&productPrice)
        if let count = searchCount, count < 0 {
            searchCount = nil
            note(.numberOutOfRange)
        }
        return repairs
    }
}
