extension StringProtocol {
    /// Without leading and trailing spaces and tabs, the blanks HTTP allows around header values.
    /// Runs for several headers of every request, where Foundation's `trimmingCharacters(in:)` costs a
    /// bridged string each time.
    /// Compared by byte: spaces and tabs are single bytes, and `Character` comparisons would break the
    /// text into grapheme clusters.
    package func trimmingBlanks() -> SubSequence {
        let bytes = utf8
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.startIndex
        while start < bytes.endIndex, isBlank(bytes[start]) { start = bytes.index(after: start) }
        // One pass forward (a protocol's UTF-8 view only goes forward): the end follows the last non-blank.
        var end = start
        var index = start
        while index < bytes.endIndex {
            let next = bytes.index(after: index)
            if !isBlank(bytes[index]) { end = next }
            index = next
        }
        return self[start..<end]
    }
}

/// Two decimal digits, zero-padded.
package func twoDigits(_ value: Int) -> String {
    value < 10 ? "0\(value)" : "\(value)"
}
