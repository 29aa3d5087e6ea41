/// Every required literal of a database's patterns (`RequiredLiterals`), numbered, in a trie: one walk over
/// a user agent finds which of them it contains, and each pattern's filter then costs a few bit tests
/// instead of substring searches.
///
/// The trie is kept in flat arrays: the root's children in a table by byte, every other node's children as
/// a run of (byte, node) pairs, found by a short scan (below the first level a node has one child or a
/// few). For the device database's literals that takes half the memory a dictionary of transitions took
/// (docs/performance.md, "The edge's memory when idle").
struct LiteralIndex: Sendable {
    /// The root's child for each byte, or 0 (the root is no one's child).
    private let rootChild: [Int32]
    /// Where each node's children start in `childBytes` and `childNodes`; one more entry than nodes.
    private let childStart: [Int32]
    private let childBytes: [UInt8]
    private let childNodes: [Int32]
    /// The literal a node completes, or -1.
    private let terminal: [Int32]
    let count: Int

    /// Which literals `lowered` (ASCII, lower-cased) contains, as a bit set.
    func present(in lowered: [UInt8]) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: (count + 63) / 64)
        lowered.withUnsafeBufferPointer { text in
            childStart.withUnsafeBufferPointer { starts in
                childBytes.withUnsafeBufferPointer { bytes in
                    childNodes.withUnsafeBufferPointer { nodes in
                        terminal.withUnsafeBufferPointer { terminal in
                            for start in text.indices {
                                var node = Int(rootChild[Int(text[start])])
                                var position = start + 1
                                while node != 0 {
                                    let literal = terminal[node]
                                    if literal >= 0 { bits[Int(literal) >> 6] |= 1 << UInt64(literal & 63) }
                                    guard position < text.count else { break }
                                    let byte = text[position]
                                    position += 1
                                    // The child for `byte`, or 0: the walk from `start` ends.
                                    var child = 0
                                    for edge in Int(starts[node])..<Int(starts[node + 1]) where bytes[edge] == byte {
                                        child = Int(nodes[edge])
                                        break
                                    }
                                    node = child
                                }
                            }
                        }
                    }
                }
            }
        }
        return bits
    }

    fileprivate init(literals: [[UInt8]]) {
        // Built with a dictionary of transitions, then laid out flat.
        var transitions: [Int: Int32] = [:]
        var terminal: [Int32] = [-1]
        for (id, literal) in literals.enumerated() {
            var node = 0
            for byte in literal {
                let key = node << 8 | Int(byte)
                if let next = transitions[key] {
                    node = Int(next)
                } else {
                    terminal.append(-1)
                    transitions[key] = Int32(terminal.count - 1)
                    node = terminal.count - 1
                }
            }
            terminal[node] = Int32(id)
        }
        var childStart = [Int32](repeating: 0, count: terminal.count + 1)
        for key in transitions.keys { childStart[(key >> 8) + 1] += 1 }
        for node in 0..<terminal.count { childStart[node + 1] += childStart[node] }
        var filled = Array(childStart.dropLast())
        var childBytes = [UInt8](repeating: 0, count: transitions.count)
        var childNodes = [Int32](repeating: 0, count: transitions.count)
        for (key, child) in transitions {
            let edge = Int(filled[key >> 8])
            filled[key >> 8] += 1
            childBytes[edge] = UInt8(key & 0xFF)
            childNodes[edge] = child
        }
        var rootChild = [Int32](repeating: 0, count: 256)
        for edge in Int(childStart[0])..<Int(childStart[1]) { rootChild[Int(childBytes[edge])] = childNodes[edge] }
        self.rootChild = rootChild
        self.childStart = childStart
        self.childBytes = childBytes
        self.childNodes = childNodes
        self.terminal = terminal.fitted()
        self.count = literals.count
    }
}

/// Numbers literals while a database is read; `index()` then builds the trie.
final class LiteralRegistry {
    private var ids: [[UInt8]: Int32] = [:]
    private var literals: [[UInt8]] = []

    func id(_ literal: [UInt8]) -> Int32 {
        if let id = ids[literal] { return id }
        let id = Int32(literals.count)
        ids[literal] = id
        literals.append(literal)
        return id
    }

    func index() -> LiteralIndex { LiteralIndex(literals: literals) }

    /// A pattern's condition as literal numbers, flattened: for each alternative its clause count, then
    /// for each clause its literal count and the literals.
    func condition(of pattern: String) -> [Int32]? {
        guard let alternatives = RequiredLiterals.of(pattern) else { return nil }
        var flat: [Int32] = [Int32(alternatives.count)]
        for clauses in alternatives {
            flat.append(Int32(clauses.count))
            for clause in clauses {
                flat.append(Int32(clause.count))
                for literal in clause { flat.append(id(literal)) }
            }
        }
        return flat
    }
}

extension LiteralIndex {
    /// Whether a flattened condition holds for a user agent's literal bits.
    static func holds(_ c: UnsafeBufferPointer<Int32>, _ bits: [UInt64]) -> Bool {
        bits.withUnsafeBufferPointer { b in
            var position = 1
            for _ in 0..<Int(c[0]) {
                let clauseCount = Int(c[position])
                position += 1
                var allHold = true
                for _ in 0..<clauseCount {
                    let literalCount = Int(c[position])
                    position += 1
                    if allHold {
                        var any = false
                        for offset in 0..<literalCount {
                            let id = Int(c[position + offset])
                            if b[id >> 6] & (1 << UInt64(id & 63)) != 0 {
                                any = true
                                break
                            }
                        }
                        allHold = any
                    }
                    position += literalCount
                }
                if allHold { return true }
            }
            return false
        }
    }
}
