import Crypto
import Foundation

/// A HyperLogLog sketch (Flajolet et al., 2007; with the small-range correction of Heule et al., 2013)
/// of visitor ids: 2^12 one-byte registers (4 KiB), standard error 1.04/√4096 ≈ 1.6%, exact-ish
/// (linear counting) for small counts. Sketches of days merge into the sketch of a period, so unique
/// visitors over a week or month survive the purge of raw hits.
public struct HyperLogLog: Sendable, Equatable {
    static let precision = 12
    static let count = 1 << precision
    public private(set) var registers: [UInt8]

    public init() { registers = Array(repeating: 0, count: Self.count) }

    public init?(bytes: Data) {
        guard bytes.count == Self.count else { return nil }
        registers = Array(bytes)
    }

    public var bytes: Data { Data(registers) }

    public mutating func insert(_ value: String) {
        let digest = SHA256.hash(data: Data(value.utf8))
        let hash = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let index = Int(hash >> UInt64(64 - Self.precision))
        let rest = hash << UInt64(Self.precision)
        let rank = UInt8(min(rest.leadingZeroBitCount, 64 - Self.precision) + 1)
        if rank > registers[index] { registers[index] = rank }
    }

    public mutating func merge(_ other: HyperLogLog) {
        for i in registers.indices where other.registers[i] > registers[i] { registers[i] = other.registers[i] }
    }

    public var estimate: Int {
        let m = Double(Self.count)
        let alpha = 0.7213 / (1 + 1.079 / m)
        let sum = registers.reduce(0.0) { $0 + pow(2, -Double($1)) }
        let raw = alpha * m * m / sum
        let zeros = registers.filter { $0 == 0 }.count
        if raw <= 2.5 * m, zeros > 0 {
            return Int((m * log(m / Double(zeros))).rounded())
        }
        return Int(raw.rounded())
    }
}
