import Foundation
import Glibc

/// Changes to the files under a directory (inotify), for tests that wait on other processes: the waiter
/// wakes when a daemon writes its buffer, store or log, not after a fixed delay.
final class FileChanges: @unchecked Sendable {
    private let descriptor: Int32

    /// Watches `directory` and the directories directly in it.
    init(under directory: String) {
        descriptor = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
        let subdirectories = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }.filter {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        let events = UInt32(IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE)
        for path in [directory] + subdirectories { _ = inotify_add_watch(descriptor, path, events) }
    }

    deinit { close(descriptor) }

    /// Blocks the calling thread until the next change (or a second without one), for synchronous waits.
    func waitForNext() {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 1000)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while read(descriptor, &buffer, buffer.count) > 0 {}
    }

    /// Returns after the next change (or after a second without one, so that conditions that only
    /// depend on time passing are re-checked too). Waits on a thread of its own, never on the test's.
    func next() async {
        let descriptor = descriptor
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, 1000)
                var buffer = [UInt8](repeating: 0, count: 4096)
                while read(descriptor, &buffer, buffer.count) > 0 {}
                continuation.resume()
            }
        }
    }
}
