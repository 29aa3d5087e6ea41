extension StringProtocol {
    /// Without leading and trailing spaces and tabs, the blanks HTTP allows around header values.
    /// Runs for several headers of every request, where Foundation's `trimmingCharacters(in:)` costs a
    /// bridged string each time.
    package func trimmingBlanks() -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }
}

/// Two decimal digits, zero-padded.
package func twoDigits(_ value: Int) -> String {
    value < 10 ? "0\(value)" : "\(value)"
}
