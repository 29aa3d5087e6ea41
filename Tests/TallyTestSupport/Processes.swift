import Foundation

/// Runs blocking work (waiting for a process or a file) on a thread of its own, so a test never holds one
/// of the few cooperative threads that every other test running in parallel, the in-process servers under
/// test and URLSession's callbacks need: on a two-core machine two blocked tests would stall all the others.
public func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Runs a program to completion on the calling thread and returns its exit status and its output: what
/// it wrote to standard output, and to standard error as well unless `withErrors` is false.
public func runToCompletion(_ executable: String, _ arguments: [String], withErrors: Bool = true) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    if withErrors { process.standardError = pipe }
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
