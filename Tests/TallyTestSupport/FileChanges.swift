import Foundation
import Glibc

/// Changes to the files under some directories (inotify), for tests that wait on other processes: the
/// waiter wakes when a daemon writes its buffer, store or log, or a database server its write-ahead log,
/// not after a fixed delay.
public final class FileChanges: @unchecked Sendable {
    private let descriptor: Int32

    /// Watches each directory and the directories directly in it.
    public convenience init(under directories: String...) { self.init(under: directories) }

    public init(under directories: [String]) {
        descriptor = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
        let events = UInt32(IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE)
        for directory in directories {
            let subdirectories = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }.filter {
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue
            }
            for path in [directory] + subdirectories { _ = inotify_add_watch(descriptor, path, events) }
        }
    }

    deinit { close(descriptor) }

    /// Waits until `condition` holds, re-checking it after each change under `directories` (or a second
    /// without one). False when `limit` passed first: a guard against a hung run, not a timing assumption.
    public static func wait(until condition: () async throws -> Bool, watching directories: [String], limit: Duration) async rethrows -> Bool {
        let changes = FileChanges(under: directories)
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            await changes.next()
        }
        return false
    }

    /// Blocks the calling thread until the next change (or a second without one), for synchronous waits.
    public func waitForNext() {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 1000)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while read(descriptor, &buffer, buffer.count) > 0 {}
    }

    /// Returns after the next change (or after a second without one, so that conditions that only
    /// depend on time passing are re-checked too). Waits on a thread of its own, never on the test's.
    public func next() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.waitForNext()
                continuation.resume()
            }
        }
    }
}
