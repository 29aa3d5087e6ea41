import Foundation
@testable import TallyCore
import TallyTestSupport
import Testing

/// Tally's TOML parser against Python's `tomllib` (the standard library's TOML 1.0 reader): the same
/// documents must give the same values, and the same documents must be refused.
@Suite("TOML documents")
struct TOMLDocumentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let valid: [String] = [
        "",
        "# only a comment\n\n",
        "a = 1\nb = -2\nc = +3\nd = 0\ne = 1_000_000\nf = 0xDEAD_beef\ng = 0o755\nh = 0b1101\ni = 9223372036854775807\nj = -9223372036854775808\n",
        "f1 = 1.0\nf2 = 3.1415\nf3 = -0.01\nf4 = 5e+22\nf5 = 1e06\nf6 = -2E-2\nf7 = 6.626e-34\nf8 = 224_617.445_991\nf9 = inf\nf10 = -inf\nf11 = 0.1\nf12 = 1e400\n",
        "t = true\nf = false\n",
        "s = \"tab\\there \\\"quoted\\\" \\\\ \\u00E9 \\U0001F600\"\nl = 'C:\\Users\\nodejs'\nempty = \"\"\ne2 = ''\n",
        "m = \"\"\"\nRoses are red\nViolets are blue\"\"\"\nm2 = \"\"\"one \\\n    two \\\n\n    three\"\"\"\nm3 = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\nm4 = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n",
        "r = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\nr2 = ''''That,' she said, 'is still pointless.''''\n",
        "odt = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00.999999-07:00\nodt3 = 1979-05-27 07:32:00+01:00\nldt = 1979-05-27T07:32:00\nld = 1979-05-27\nlt = 07:32:00.5\nleap = 2024-02-29\n",
        "a = [ 1, 2, 3 ]\nb = [ \"red\", 'yellow', \"green\" ]\nc = [ [ 1, 2 ], [\"a\", 'b'] ]\nd = [ 0.1, 1, \"mixed\", { x = 1 } ]\ne = [\n  1, # one\n  2,\n]\nf = []\n",
        "name = { first = \"Tom\", last = \"Preston-Werner\" }\npoint = { x = 1, y = 2 }\nanimal = { type.name = \"pug\" }\nempty = {}\n",
        "[table-1]\nkey1 = \"some string\"\nkey2 = 123\n\n[table-2]\nkey1 = \"another string\"\nkey2 = 456\n",
        "[dog.\"tater.man\"]\ntype.name = \"pug\"\n[ j . \"ʞ\" . 'l' ]\nx = 1\n",
        "[x.y.z.w]\n[x]\na = 1\n",
        "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n",
        "name = \"Orange\"\nphysical.color = \"orange\"\nphysical.shape = \"round\"\nsite.\"google.com\" = true\n3.14159 = \"pi\"\n\"\" = \"blank\"\n",
        "[[products]]\nname = \"Hammer\"\nsku = 738594937\n\n[[products]]  # empty table within the array\n\n[[products]]\nname = \"Nail\"\ncolor = \"gray\"\n",
        "[[fruits]]\nname = \"apple\"\n[fruits.physical]\ncolor = \"red\"\n[[fruits.varieties]]\nname = \"red delicious\"\n[[fruits.varieties]]\nname = \"granny smith\"\n[[fruits]]\nname = \"banana\"\n[[fruits.varieties]]\nname = \"plantain\"\n",
        "a = 1\r\nb = \"crlf\"\r\n[t]\r\nc = '''x\r\ny'''\r\n",
        "key = \"value\"   # trailing comment\n\t indented = true\n",
        "bare_key = 1\nbare-key = 2\n1234 = 3\n\"127.0.0.1\" = \"value\"\n'quoted \"value\"' = \"value\"\n",
    ]

    static let invalid: [String] = [
        "[@x]\n",
        "key = # no value\n",
        "first = \"Tom\" last = \"Preston-Werner\"\n",
        "= \"no key\"\n",
        "name = \"Tom\"\nname = \"Pradyun\"\n",
        "spelling = \"favorite\"\n\"spelling\" = \"favourite\"\n",
        "fruit.apple = 1\nfruit.apple.smooth = true\n",
        "[fruit]\napple = \"red\"\n[fruit]\norange = \"orange\"\n",
        "[fruit]\napple = \"red\"\n[fruit.apple]\ntexture = \"smooth\"\n",
        "[fruit]\napple.color = \"red\"\n[fruit.apple]\nx = 1\n",
        "type = { name = \"Nail\" }\ntype.edible = false\n",
        "[product]\ntype = { name = \"Nail\" }\n[product.type]\nx = 1\n",
        "fruits = []\n[[fruits]]\nx = 1\n",
        "[[fruits]]\nname = \"apple\"\n[fruits]\nx = 1\n",
        "a = 01\n", "a = 1__0\n", "a = _1\n", "a = 1_\n", "a = +0x10\n", "a = 0x\n",
        "a = .7\n", "a = 7.\n", "a = 3.e+20\n", "a = 1e\n", "a = 1.2.3\n", "a = infinity\n", "a = True\n",
        "a = \"unterminated\n", "a = 'also\n", "a = \"bad \\x escape\"\n", "a = \"\\uD800\"\n", "a = \"\"\"six\"\"\"\"\"\"\n",
        "a = \"raw\u{01}control\"\n", "a = 1 # comment with \u{7F}\n", "a = \"x\"\rb = 1\n",
        "a = 1979-13-27\n", "a = 1979-02-30\n", "a = 2023-02-29\n", "a = 1979-05-27T25:00:00\n", "a = 07:32\n", "a = 1979-05-27T07:32:00+1:00\n",
        "a = [1, 2\n", "a = [1,,2]\n", "a = { x = 1, }\n", "a = { x = 1\n, y = 2 }\n", "a = {,}\n",
        "[a]b = 1\n", "[ [a]]\n", "[[a] ]\n", "[a.]\n", "[]\n", "a.b.=1\n", "a = 1 2\n", "a = truex\n",
        "ключ = 1\n",
    ]

    /// Each document's values as tagged JSON (`["integer", "7"]`), or `["error"]`.
    static func tomllib(_ documents: [String]) throws -> [Any] {
        let script = """
            import json, sys, tomllib, datetime
            def tag(v):
                if isinstance(v, dict): return {k: tag(x) for k, x in v.items()}
                if isinstance(v, list): return [tag(x) for x in v]
                if isinstance(v, bool): return ["bool", "true" if v else "false"]
                if isinstance(v, int): return ["integer", str(v)]
                if isinstance(v, float): return ["float", "nan" if v != v else "inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v)]
                if isinstance(v, str): return ["string", v]
                if isinstance(v, datetime.datetime): return ["datetime", "offset" if v.tzinfo else "local"]
                if isinstance(v, datetime.date): return ["date"]
                if isinstance(v, datetime.time): return ["time"]
                raise TypeError(type(v))
            out = []
            for doc in json.load(sys.stdin):
                try: out.append(tag(tomllib.loads(doc)))
                except tomllib.TOMLDecodeError: out.append(["error"])
            json.dump(out, sys.stdout)
            """
        let result = try runToCompletion(
            "/usr/bin/env", ["python3", "-c", script], input: try JSONSerialization.data(withJSONObject: documents), withErrors: false
        ).output
        return try #require(try JSONSerialization.jsonObject(with: result) as? [Any])
    }

    static func tagged(_ value: TOMLValue) -> Any {
        switch value {
        case let .table(table): Dictionary(uniqueKeysWithValues: table.pairs.map { ($0.key, tagged($0.value)) })
        case let .array(array): array.map(tagged)
        case let .boolean(b): ["bool", b ? "true" : "false"]
        case let .integer(i): ["integer", String(i)]
        case let .float(f): ["float", f.isNaN ? "nan" : f.isInfinite ? (f < 0 ? "-inf" : "inf") : String(f)]
        case let .string(s): ["string", s]
        case let .dateTime(text):
            if !text.contains(":") {
                ["date"]
            } else if text.count <= 8 || text.dropFirst(2).first == ":" {
                ["time"]
            } else {
                ["datetime", text.dropFirst(19).contains(where: { "Zz+-".contains($0) }) ? "offset" : "local"]
            }
        }
    }

    static func canonical(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
    }

    static func ours(_ document: String) -> Any {
        guard let table = try? TOMLTable(parsing: document) else { return ["error"] }
        return tagged(.table(table))
    }

    @Test("Valid documents read as tomllib reads them")
    func validDocuments() throws {
        let reference = try Self.tomllib(Self.valid)
        for (document, expected) in zip(Self.valid, reference) {
            #expect(try Self.canonical(expected) != "[\"error\"]", "tomllib refuses \(document.debugDescription)")
            #expect(try Self.canonical(Self.ours(document)) == Self.canonical(expected), "\(document.debugDescription)")
        }
    }

    @Test("Invalid documents are refused, as tomllib refuses them")
    func invalidDocuments() throws {
        let reference = try Self.tomllib(Self.invalid)
        for (document, expected) in zip(Self.invalid, reference) {
            #expect(try Self.canonical(expected) == "[\"error\"]", "tomllib accepts \(document.debugDescription)")
            #expect(try Self.canonical(Self.ours(document)) == "[\"error\"]", "\(document.debugDescription)")
        }
    }

    @Test("The example configurations read as tomllib reads them")
    func exampleConfigurations() throws {
        let documents = try ["edge/edge.example.toml", "central/central.example.toml", "Fuzz/Corpus/toml/edges.toml"].map {
            try String(contentsOf: Self.root.appendingPathComponent($0), encoding: .utf8)
        }
        for (document, expected) in zip(documents, try Self.tomllib(documents)) {
            #expect(try Self.canonical(Self.ours(document)) == Self.canonical(expected))
        }
    }

    @Test("A syntax error names its line and column; nesting and key depth are bounded")
    func errors() throws {
        #expect(throws: TOMLSyntaxError(line: 2, column: 2, reason: "expected a key (letters, digits, _ or -, or a quoted string)")) {
            try TOMLTable(parsing: "a = 1\n[@x]\n")
        }
        // Columns count characters: "é" is two bytes, one column.
        #expect(throws: TOMLSyntaxError(line: 1, column: 7, reason: "\\x is not an escape TOML knows; write \\\\ for a backslash")) {
            try TOMLTable(parsing: "k = \"é\\x\"")
        }
        // TOML requires 64-bit integers and an error beyond (tomllib, on Python's big integers, keeps them).
        #expect(throws: TOMLSyntaxError.self) { try TOMLTable(parsing: "a = 9223372036854775808") }
        let deep = "a = " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: TOMLSyntaxError.self) { try TOMLTable(parsing: deep) }
        let dotted = Array(repeating: "k", count: 100_000).joined(separator: ".") + " = 1"
        #expect(throws: TOMLSyntaxError.self) { try TOMLTable(parsing: dotted) }
    }
}
