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
/// itself. Each is handed out once per test process, counting from an offset taken from the process id
/// so that two test runs on one machine seldom meet, and only after a bind shows it free.
public enum LoopbackPorts {
    /// How many ports below the ephemeral range are used.
    static let span = 8_000
    private static let next = Mutex<Int?>(nil)

    public static func reserve() throws -> Int {
        let low = ephemeralLow()
        let first = max(1_024, low - span)
        let count = low - first
        guard count > 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        return try next.withLock { cursor in
            var offset = cursor ?? Int(getpid()) * 97 % count
            for _ in 0..<count {
                let port = first + offset
                offset = (offset + 1) % count
                if isFree(port) {
                    cursor = offset
                    return port
                }
            }
            throw POSIXError(.EADDRINUSE)
        }
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
