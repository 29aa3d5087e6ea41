#if canImport(Glibc)
import Glibc
#endif

/// The one rule for control characters, applied at every entry point (tracking parameters, the JSON
/// beacon, records arriving at central): characters of Unicode's general category Cc — C0 (U+0000 to
/// U+001F, NUL, tab and newlines included), DEL (U+007F) and C1 (U+0080 to U+009F) — are removed and the
/// rest of the value is kept. Matomo removes line breaks and NUL from tracked values
/// (`Common::sanitizeLineBreaks`); Tally removes every control character, so no stored text can break a
/// log line, a CSV row or a C string.
public enum TextCleaning {
    /// Whether the UTF-8 bytes hold a control character. In valid UTF-8 a C0 control or DEL is always a
    /// byte of its own, and a C1 control is always the pair 0xC2 0x80…0x9F.
    @inlinable
    public static func containsControlCharacter<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        // Contiguous bytes (a native string's, an array's) are scanned in place, not through an iterator.
        if let found = bytes.withContiguousStorageIfAvailable({ scan($0) }) { return found }
        return scan(bytes)
    }

    @inlinable
    static func scan(_ bytes: some Collection<UInt8>) -> Bool {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && (0x80...0x9F).contains(byte)) { return true }
            previous = byte
        }
        return false
    }

    /// The text without its control characters; `nil` when there was none to remove (the common case,
    /// which costs one scan and no allocation).
    public static func removingControlCharacters(_ text: String) -> String? {
        guard containsControlCharacter(text.utf8) else { return nil }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !isControl(scalar) { scalars.append(scalar) }
        return String(scalars)
    }

    /// The UTF-8 bytes without their control characters (the bytes must be valid UTF-8).
    public static func removingControlCharacters(utf8 bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F { continue }
            if (0x80...0x9F).contains(byte), out.last == 0xC2 {
                out.removeLast()
                continue
            }
            out.append(byte)
        }
        return out
    }

    /// The text without leading and trailing spaces: the set Foundation calls `whitespaces` (tab,
    /// Unicode's space separators, and the zero-width space as Core Foundation has it). A value that
    /// starts and ends with a visible ASCII character, the usual case, is returned as it is, without a copy.
    public static func trimmingSpaces(_ text: String) -> String {
        guard let first = text.utf8.first, let last = text.utf8.last else { return text }
        if first > 0x20, first < 0x80, last > 0x20, last < 0x80 { return text }
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
            default: false
            }
        }
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !isSpace($0) }), let end = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[start...end])
    }

    /// Whether `part` occurs in `text`, compared byte for byte in UTF-8 (where a match of whole
    /// characters is a match of bytes). Foundation's `contains` bridges both strings to NSString first.
    public static func contains(_ text: String, _ part: String) -> Bool {
        var text = text, part = part
        return text.withUTF8 { haystack in
            part.withUTF8 { needle in
                guard !needle.isEmpty else { return true }
                guard needle.count <= haystack.count else { return false }
                let (base, last) = (haystack.baseAddress!, haystack.count - needle.count)
                var start = 0
                // Each occurrence of the first byte (memchr), then the rest compared (memcmp).
                while start <= last, let found = memchr(base + start, Int32(needle[0]), last - start + 1) {
                    let offset = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + offset, needle.baseAddress!, needle.count) == 0 { return true }
                    start = offset + 1
                }
                return false
            }
        }
    }

    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
