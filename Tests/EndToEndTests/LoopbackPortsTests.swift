import Foundation
import Glibc
import TallyTestSupport
import Testing

/// The ports the end-to-end tests give their daemons: a connection another test makes meanwhile must not
/// be able to take one before the daemon binds it.
@Suite("Ports for the tests' servers")
struct LoopbackPortsTests {
    @Test("Each port is free, handed out once, from a block no other test run can claim, below the range the kernel gives client connections")
    func belowTheEphemeralRange() throws {
        let low = LoopbackPorts.ephemeralLow()
        let ports = try (0..<64).map { _ in try LoopbackPorts.reserve() }
        #expect(Set(ports).count == ports.count, "\(ports)")
        for port in ports {
            #expect(port >= 1_024 && port < low, "\(port) is not below the ephemeral range starting at \(low)")
        }
        // Another test run on the machine cannot claim the blocks these came from: their lock files are
        // held (a second open file's flock conflicts, as another process's would).
        for block in Set(ports.map { LoopbackPorts.blockStart(of: $0) }) {
            let descriptor = open(NSTemporaryDirectory() + "tally-test-ports-\(block).lock", O_RDWR | O_CLOEXEC)
            #expect(descriptor >= 0)
            #expect(flock(descriptor, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK, "block \(block) is not held")
            close(descriptor)
        }

        // The kernel's own choice for a client connection falls in the ephemeral range, where none of
        // these ports is, and holds that port against a listener even with SO_REUSEADDR.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener); close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let connected = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
                    && connect(client, $0, length) == 0 && getsockname(client, $0, &length) == 0
            }
        }
        try #require(connected)
        let clientPort = Int(UInt16(bigEndian: address.sin_port))
        #expect(clientPort >= low, "client port \(clientPort)")
        #expect(!LoopbackPorts.isFree(clientPort))
    }
}
