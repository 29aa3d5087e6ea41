import Foundation
import TallyCore

/// Campaign parameters found in a page URL (Google's `utm_*`, Matomo's `mtm_*`, legacy `pk_*`), lower-cased
/// as Matomo stores them.
public struct Campaign: Sendable, Equatable {
    public var name: String?
    public var source: String?
    public var medium: String?
    public var keyword: String?
    public var content: String?

    public var isEmpty: Bool { name == nil && source == nil && medium == nil }

    /// The name a campaign is reported under, as Matomo names it: the campaign name, else the source,
    /// else the medium (Matomo's default `campaign_var_name` ends with `utm_source,utm_medium`).
    public var reportedName: String? { name ?? source ?? medium }

    enum Field: Sendable { case name, source, medium, keyword, content }

    subscript(field: Field) -> String? {
        get {
            switch field {
            case .name: name
            case .source: source
            case .medium: medium
            case .keyword: keyword
            case .content: content
            }
        }
        set {
            switch field {
            case .name: name = newValue
            case .source: source = newValue
            case .medium: medium = newValue
            case .keyword: keyword = newValue
            case .content: content = newValue
            }
        }
    }
}

/// Removes what a URL or title should not carry: fragments, click and session ids, credentials, e-mail
/// addresses and the site's own redaction patterns. Campaign parameters are taken out of the URL into a
/// `Campaign` (they are reported from there, and would otherwise split one page into many).
public struct URLScrubber: Sendable {
    let policy: PrivacyPolicy
    private let patterns: [NSRegularExpression]

    static let emailReplacement = "[email]"
    static let patternReplacement = "[redacted]"

    /// Campaign parameter names (lower case), the campaign field each fills, and its precedence when a
    /// URL carries several for one field (lower wins) — Matomo's default `campaign_var_name` and
    /// `campaign_keyword_var_name` order, then Tally's `mtm_cpn`; sources, media and contents by prefix.
    static let campaignParameters: [String: (field: Campaign.Field, rank: Int)] = {
        var table: [String: (field: Campaign.Field, rank: Int)] = [:]
        let lists: [(Campaign.Field, [String])] = [
            (.name, ["pk_cpn", "pk_campaign", "piwik_campaign", "mtm_campaign", "matomo_campaign", "utm_campaign", "mtm_cpn"]),
            (.keyword, ["pk_kwd", "pk_keyword", "piwik_kwd", "mtm_kwd", "mtm_keyword", "matomo_kwd", "utm_term"]),
            (.source, ["utm_source", "mtm_source", "pk_source", "matomo_source"]),
            (.medium, ["utm_medium", "mtm_medium", "pk_medium", "matomo_medium"]),
            (.content, ["utm_content", "mtm_content", "pk_content", "matomo_content"]),
        ]
        for (field, names) in lists {
            for (rank, name) in names.enumerated() { table[name] = (field, rank) }
        }
        return table
    }()

    /// - Throws: never for a policy that passed configuration checks (patterns are validated there).
    public init(policy: PrivacyPolicy) throws {
        self.policy = policy
        self.patterns = try policy.redactPatterns.map { try NSRegularExpression(pattern: $0) }
    }

    /// The scrubbed URL, the campaign it carried and how many query parameters were removed (campaign
    /// parameters included). `nil` when the text is not an absolute http(s) URL.
    public func scrub(url text: String) -> (url: String, campaign: Campaign, removed: Int)? {
        WebAddress(text).map(scrub)
    }

    /// Scheme and host lower-cased; user name, password and fragment gone (`WebAddress` drops them);
    /// path and kept parameters as the tracker encoded them, unless redaction changed them, in which case
    /// the redacted text is encoded afresh.
    func scrub(_ address: WebAddress) -> (url: String, campaign: Campaign, removed: Int) {
        let path = redacted(address.path, allowing: WebAddress.allowedInPath)
        var campaign = Campaign()
        var ranks: [Campaign.Field: Int] = [:]
        var removed = 0
        var kept: [UInt8] = []
        if let query = address.query {
            for item in query.split(separator: UInt8(ascii: "&")) {
                let equals = item.firstIndex(of: UInt8(ascii: "="))
                let rawName = item[..<(equals ?? item.endIndex)]
                let rawValue = equals.map { item[($0 + 1)...] }
                let name = (WebAddress.percentDecoded(rawName) ?? String(decoding: rawName, as: UTF8.self)).lowercased()
                if let (field, rank) = Self.campaignParameters[name] {
                    if let rawValue, rank < ranks[field] ?? .max {
                        let value = TextCleaning.trimmingSpaces(redact(WebAddress.percentDecoded(rawValue) ?? String(decoding: rawValue, as: UTF8.self)))
                        if !value.isEmpty {
                            campaign[field] = value.lowercased()
                            ranks[field] = rank
                        }
                    }
                    removed += 1
                    continue
                }
                guard keeps(parameter: name) else {
                    removed += 1
                    continue
                }
                if !kept.isEmpty { kept.append(UInt8(ascii: "&")) }
                kept.append(contentsOf: redacted(rawName, allowing: WebAddress.allowedInQueryValue))
                if let rawValue {
                    kept.append(UInt8(ascii: "="))
                    kept.append(contentsOf: redacted(rawValue, allowing: WebAddress.allowedInQueryValue))
                }
            }
        }
        return (address.text(path: path, query: kept.isEmpty ? nil : kept), campaign, removed)
    }

    /// A percent-encoded component with e-mail addresses and the policy's patterns redacted in its decoded
    /// text: as it was when nothing matched, else the redacted text encoded.
    private func redacted(_ component: ArraySlice<UInt8>, allowing allowed: (UInt8) -> Bool) -> ArraySlice<UInt8> {
        guard redactEmailsOrPatterns else { return component }
        let decoded = WebAddress.percentDecoded(component) ?? String(decoding: component, as: UTF8.self)
        let clean = redact(decoded)
        return clean == decoded ? component : WebAddress.percentEncoded(clean, allowing: allowed)[...]
    }

    /// Whether `redact` can change anything at all.
    private var redactEmailsOrPatterns: Bool { policy.redactEmails || !patterns.isEmpty }

    /// Whether the policy keeps a query parameter (by lower-case name).
    func keeps(parameter name: String) -> Bool {
        switch policy.queryMode {
        case .allowlist: policy.allowedQueryParams.contains(name)
        case .denylist: !policy.stripQueryParams.contains(name)
        }
    }

    /// Replaces e-mail addresses (when the policy says so) and the policy's patterns in free text.
    public func redact(_ text: String) -> String {
        var text = text
        if policy.redactEmails, text.utf8.contains(UInt8(ascii: "@")) {
            text = Self.redactingEmails(text)
        }
        for pattern in patterns {
            text = pattern.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: Self.patternReplacement)
        }
        return text
    }

    /// Replaces every `local@domain.tld` with `[email]`: a local part of letters, digits and `._%+-`, a
    /// domain of letters, digits, `.` and `-` holding a dot and ending in a label of two or more letters.
    /// A hand scanner rather than a regular expression: it runs on every URL and title.
    static func redactingEmails(_ text: String) -> String {
        let bytes = Array(text.utf8)
        func isLocal(_ b: UInt8) -> Bool {
            isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "%")
                || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
        }
        func isDomain(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") }
        func isAlnum(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var copied = 0
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "@") else { index += 1; continue }
            var start = index
            while start > copied, isLocal(bytes[start - 1]) { start -= 1 }
            var end = index + 1
            while end < bytes.count, isDomain(bytes[end]) { end += 1 }
            // The domain ends at the last label of two or more letters: trailing dots and hyphens end a
            // sentence ("mail a@b.org."), and what follows a top-level domain is not part of the address
            // ("a@b.org-100", an order id): the address is cut there and still redacted.
            func endsInTopLevelDomain(_ end: Int) -> Bool {
                let domain = bytes[(index + 1)..<end]
                guard let lastDot = domain.lastIndex(of: UInt8(ascii: ".")), lastDot > index + 1 else { return false }
                let tld = domain[(lastDot + 1)...]
                // Never between two letters: "a@b.orgx" is not cut to "a@b.org".
                return tld.count >= 2 && tld.allSatisfy(\.isASCIILetter) && (end == bytes.count || !bytes[end].isASCIILetter)
            }
            while end > index + 1, !endsInTopLevelDomain(end) { end -= 1 }
            let valid = start < index && end > index + 1
            if valid {
                out.append(contentsOf: bytes[copied..<start])
                out.append(contentsOf: emailReplacement.utf8)
                copied = end
                index = end
            } else {
                index += 1
            }
        }
        out.append(contentsOf: bytes[copied...])
        return String(decoding: out, as: UTF8.self)
    }
}

private extension UInt8 {
    var isASCIILetter: Bool { (self >= 0x41 && self <= 0x5a) || (self >= 0x61 && self <= 0x7a) }
}
