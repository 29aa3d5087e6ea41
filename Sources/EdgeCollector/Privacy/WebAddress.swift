import TrackingInput
import Foundation
import TallyCore

/// An absolute `http` or `https` URL (RFC 3986 §3) taken apart for scrubbing: scheme and host lower-cased,
/// user name, password and fragment already gone, path and query exactly as the tracker encoded them.
///
/// Written for the request path, where `URLComponents` was the largest cost of the privacy pipeline. Text
/// holding characters a URL may not carry (spaces, non-ASCII, a `%` without two hex digits, an
/// internationalised host) is first normalised by `URLComponents`, which percent-encodes them (and turns
/// the host into its ASCII form), so both paths end in the same form.
struct WebAddress: Equatable {
    var scheme: String
    /// Lower case; an IPv6 literal keeps its brackets.
    var host: String
    /// Digits, `nil` when absent or empty.
    var port: String?
    /// Percent-encoded, possibly empty.
    var path: ArraySlice<UInt8>
    /// Percent-encoded, without the `?`; `nil` when the URL has no `?`.
    var query: ArraySlice<UInt8>?

    init?(_ text: String) {
        if Self.isPlainURLText(text) {
            self.init(plain: Array(text.utf8))
        } else if let normalised = URLComponents(string: text)?.string, Self.isPlainURLText(normalised) {
            self.init(plain: Array(normalised.utf8))
        } else {
            return nil
        }
    }

    /// Splits ASCII URL text at its delimiters, bytewise.
    private init?(plain bytes: [UInt8]) {
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let scheme = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let authorityStart = colon + 3
        guard authorityStart <= bytes.count, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/") else { return nil }
        let authorityEnd = bytes[authorityStart...].firstIndex {
            $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#")
        } ?? bytes.count
        var authority = bytes[authorityStart..<authorityEnd]
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) { authority = authority[(at + 1)...] }
        var host: ArraySlice<UInt8>
        var port: ArraySlice<UInt8> = []
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            host = authority[...close]
            let after = authority[(close + 1)...]
            guard after.isEmpty || after.first == UInt8(ascii: ":") else { return nil }
            port = after.dropFirst()
        } else if let portColon = authority.firstIndex(of: UInt8(ascii: ":")) {
            host = authority[..<portColon]
            port = authority[(portColon + 1)...]
        } else {
            host = authority
        }
        guard !host.isEmpty, let decodedHost = Self.percentDecoded(host), decodedHost.utf8.allSatisfy(Self.isHostByte),
              port.allSatisfy(ASCII.isDigit)
        else { return nil }
        var tailEnd = bytes[authorityEnd...].firstIndex(of: UInt8(ascii: "#")) ?? bytes.count
        if let question = bytes[authorityEnd..<tailEnd].firstIndex(of: UInt8(ascii: "?")) {
            path = bytes[authorityEnd..<question]
            query = bytes[(question + 1)..<tailEnd]
            tailEnd = question
        } else {
            path = bytes[authorityEnd..<tailEnd]
            query = nil
        }
        self.scheme = scheme
        self.host = decodedHost.lowercased()
        self.port = port.isEmpty ? nil : String(decoding: port, as: UTF8.self)
    }

    /// `scheme://host[:port]`.
    var origin: String {
        var text = scheme + "://" + host
        if let port { text += ":" + port }
        return text
    }

    /// The URL with the given path and query (no query when `nil`).
    func text(path: some Sequence<UInt8>, query: (some Sequence<UInt8>)?) -> String {
        var bytes = Array(origin.utf8)
        bytes.append(contentsOf: path)
        if let query {
            bytes.append(UInt8(ascii: "?"))
            bytes.append(contentsOf: query)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Only characters a URL may carry as they are: unreserved, reserved, and `%` with two hex digits.
    static func isPlainURLText(_ text: String) -> Bool {
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let first = utf8.index(after: index)
                guard first < utf8.endIndex, ASCII.isHexDigit(utf8[first]) else { return false }
                let second = utf8.index(after: first)
                guard second < utf8.endIndex, ASCII.isHexDigit(utf8[second]) else { return false }
                index = utf8.index(after: second)
                continue
            }
            guard isUnreserved(byte) || isReserved(byte) else { return false }
            index = utf8.index(after: index)
        }
        return true
    }

    /// A registered name's characters (unreserved and sub-delims) and an IP literal's brackets and colons.
    static func isHostByte(_ byte: UInt8) -> Bool {
        isUnreserved(byte) || (isReserved(byte) && byte != UInt8(ascii: "/") && byte != UInt8(ascii: "?") && byte != UInt8(ascii: "#") && byte != UInt8(ascii: "@"))
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
    }

    /// RFC 3986 gen-delims and sub-delims.
    static func isReserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "@"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default:
            false
        }
    }

    /// `%XX` escapes decoded (`+` stays `+`, as in a URL's path and in `URLComponents`' query items);
    /// `nil` when the result is not UTF-8.
    static func percentDecoded(_ utf8: ArraySlice<UInt8>) -> String? {
        guard utf8.contains(UInt8(ascii: "%")) else { return String(decoding: utf8, as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index < utf8.endIndex {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.endIndex,
               let high = ASCII.hexValue(utf8[index + 1]), let low = ASCII.hexValue(utf8[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        guard bytes.withUnsafeBytes(UTF8Validation.isValid) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Percent-encodes every byte that is neither unreserved nor in `allowed`.
    static func percentEncoded(_ text: String, allowing allowed: (UInt8) -> Bool) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || allowed(byte) {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        return bytes
    }

    /// What a path segment may hold unencoded besides unreserved characters: sub-delims, `:`, `@`, `/`.
    static func allowedInPath(_ byte: UInt8) -> Bool {
        isReserved(byte) && byte != UInt8(ascii: "?") && byte != UInt8(ascii: "#") && byte != UInt8(ascii: "[") && byte != UInt8(ascii: "]")
    }

    /// What a query parameter's name or value may hold unencoded: the path's set and `?`, less the
    /// separators `&`, `=`, `+` (a space in form encoding) and `;`.
    static func allowedInQueryValue(_ byte: UInt8) -> Bool {
        (allowedInPath(byte) || byte == UInt8(ascii: "?"))
            && byte != UInt8(ascii: "&") && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "+") && byte != UInt8(ascii: ";")
    }
}
