import Foundation
import Glibc
import Synchronization

/// Loopback ports for servers a test must name before they start (a central that edges ship to, a
/// PostgreSQL or SMTP server in a configuration).
///
/// A port picked by binding port 0 and closing the socket comes from the kernel's ephemeral range, and
/// the kernel may hand it to another test's client connection or port-0 listener before the server
/// binds it; the server then fails to start and the test fails for nothing it tests. These ports come
/// from just below that range (`net.ipv4.ip_local_port_range`), which the kernel never hands out by
/// itself. A test process takes them in blocks of `blockSize`, each claimed with a lock on a file
/// (`flock`, released when the process ends), so two test runs on one machine never share a block;
/// within its blocks a process hands each port out once, after a bind shows it free.
public enum LoopbackPorts {
    /// How many ports below the ephemeral range are used, and how many a claim takes at once.
    static let span = 8_000
    static let blockSize = 100

    private struct Claim {
        var first = 0
        var next = 0
        var end = 0
        /// The descriptors holding this process's block locks, kept open for its life.
        var locks: [Int32] = []
    }

    private static let claim = Mutex(Claim())

    public static func reserve() throws -> Int {
        try claim.withLock { claim in
            while true {
                while claim.next < claim.end {
                    let port = claim.next
                    claim.next += 1
                    if isFree(port) { return port }
                }
                try claimBlock(&claim)
            }
        }
    }

    /// Claims the next block no other process holds, starting from an offset taken from the process id.
    private static func claimBlock(_ claim: inout Claim) throws {
        let low = ephemeralLow()
        let first = max(1_024, low - span)
        let blocks = (low - first) / blockSize
        guard blocks > 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        let start = claim.locks.isEmpty ? Int(getpid()) % blocks : (claim.first - first) / blockSize + 1
        for step in 0..<blocks {
            let blockFirst = first + (start + step) % blocks * blockSize
            let path = NSTemporaryDirectory() + "tally-test-ports-\(blockFirst).lock"
            let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { continue }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
                claim.locks.append(descriptor)
                (claim.first, claim.next, claim.end) = (blockFirst, blockFirst, blockFirst + blockSize)
                return
            }
            close(descriptor)
        }
        throw POSIXError(.EADDRINUSE)
    }

    /// The first port of the block that holds `port`.
    public static func blockStart(of port: Int) -> Int {
        let first = max(1_024, ephemeralLow() - span)
        return first + (port - first) / blockSize * blockSize
    }

    /// The first port of the kernel's ephemeral range (32768 unless configured otherwise).
    public static func ephemeralLow() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }

    /// Whether a listener could bind `port` on 127.0.0.1 now (bound without SO_REUSEADDR, so a port
    /// still in TIME_WAIT counts as taken).
    public static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
