import DeviceDetection
import Foundation
import TrackingInput

/// Everything a tracking request brought that Tally must not keep: the full client address, the raw
/// user agent, headers and cookies. It is request-scoped and deliberately has no `Codable` (or any
/// storage) conformance, so the compiler keeps these values out of the buffer, batches and logs; the
/// pipeline derives the stored `Hit` from it field by field.
public struct IncomingRequest: Sendable {
    /// The client address after trusted-proxy resolution (and a `cip` override with a valid token).
    public var clientIP: IPAddress
    public var userAgent: String
    public var acceptLanguage: String?
    /// Lower-cased header names to values, for the privacy signals (`dnt`, `sec-gpc`, `purpose`, ...).
    public var headers: [String: String]
    public var cookies: [String: String]
    public var parameters: QueryParameters
    public var receivedAt: Date
    /// User-Agent Client Hints (`uadata`, else the `Sec-CH-UA*` headers).
    public var clientHints: DetectionHints?

    public init(
        clientIP: IPAddress, userAgent: String, acceptLanguage: String? = nil,
        headers: [String: String] = [:], cookies: [String: String] = [:],
        parameters: QueryParameters, receivedAt: Date, clientHints: DetectionHints? = nil
    ) {
        self.clientIP = clientIP
        self.userAgent = userAgent
        self.acceptLanguage = acceptLanguage
        self.headers = headers
        self.cookies = cookies
        self.parameters = parameters
        self.receivedAt = receivedAt
        self.clientHints = clientHints ?? parameters["uadata"].flatMap(ClientHints.from(uadata:)) ?? ClientHints.from(headers: headers)
    }

    /// Parses a `Cookie:` header (RFC 6265 §5.4) into names and values.
    public static func parseCookies(_ header: String?) -> [String: String] {
        guard let header else { return [:] }
        var cookies: [String: String] = [:]
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard let name = pair.first.map({ String($0.trimmingBlanks()) }), !name.isEmpty else { continue }
            cookies[name] = pair.count > 1 ? String(pair[1].trimmingBlanks()) : ""
        }
        return cookies
    }
}
