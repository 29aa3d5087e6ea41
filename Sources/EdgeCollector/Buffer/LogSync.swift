import Foundation
import NIOPosix
import Synchronization

/// Syncs the buffer's write-ahead log (`buffer.sqlite-wal`), so that a commit is durable without the
/// sync being part of the commit.
///
/// The buffer's writing connection runs with `synchronous = NORMAL`: a commit writes its frames to the
/// log and returns, and SQLite itself syncs only around checkpoints. An `fdatasync` of the log that
/// starts after a commit has returned makes that commit durable: together they are what
/// `synchronous = FULL` does inside the commit (https://sqlite.org/pragma.html#pragma_synchronous,
/// https://sqlite.org/wal.html). Every writer of the buffer syncs after its commit and before anything
/// depends on it: a request's answer, a batch handed to the shipper, an acknowledged batch forgotten.
///
/// The difference is what waits. With FULL, SQLite syncs while it holds the database's single write
/// lock, so an event loop that committed its requests' hits kept the other loop from committing until
/// its sync was done. Here the lock is free once the frames are written: the other loop commits, and
/// the two syncs run side by side (docs/performance.md).
final class LogSync: Sendable {
    /// The write-ahead log's path.
    let path: String
    private let descriptor = Mutex<Int32>(-1)
    /// `fdatasync`; tests substitute one they can hold.
    private let syncFile: @Sendable (Int32) -> Int32

    init(logPath: String, syncFile: @escaping @Sendable (Int32) -> Int32 = { fdatasync($0) }) {
        path = logPath
        self.syncFile = syncFile
    }

    deinit {
        let descriptor = descriptor.withLock { $0 }
        if descriptor >= 0 { close(descriptor) }
    }

    /// Syncs the log on the calling thread.
    func sync() throws {
        let (descriptor, openError): (Int32, Int32) = descriptor.withLock { descriptor in
            if descriptor < 0 { descriptor = open(path, O_RDONLY | O_CLOEXEC) }
            return (descriptor, descriptor < 0 ? errno : 0)
        }
        guard descriptor >= 0 else { return try Self.missingLog(path, openError) }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_nlink == 0 {
            // The log this descriptor holds was removed (and checkpointed); a new one may have started.
            let current = open(path, O_RDONLY | O_CLOEXEC)
            guard current >= 0 else { return try Self.missingLog(path, errno) }
            defer { close(current) }
            return try check(syncFile(current))
        }
        try check(syncFile(descriptor))
    }

    /// Syncs the log on a thread of NIO's blocking pool, not on the caller's (a task's) thread.
    func synced() async throws {
        try await NIOThreadPool.singleton.runIfActive { try self.sync() }
    }

    /// No log: every commit is in the database file, which SQLite synced when it checkpointed the log and
    /// removed it (it does so only when its last connection closes). Any other reason is a failure.
    private static func missingLog(_ path: String, _ code: Int32) throws {
        guard code == ENOENT else { throw LogSyncError(path: path, operation: "open", code: code) }
    }

    private func check(_ result: Int32) throws {
        guard result == 0 else { throw LogSyncError(path: path, operation: "fdatasync", code: errno) }
    }
}

/// The log could not be synced: what was committed since the last sync may not be on the disk.
struct LogSyncError: Error, CustomStringConvertible {
    let path: String
    let operation: String
    let code: Int32
    var description: String { "\(operation) of \(path) failed: \(String(cString: strerror(code)))" }
}
