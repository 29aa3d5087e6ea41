import Foundation

/// Runs blocking work (waiting for a process or a file) on a thread of its own, so a test never holds one
/// of the few cooperative threads that every other test running in parallel, the in-process servers under
/// test and URLSession's callbacks need: on a two-core machine two blocked tests would stall all the others.
public func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// How a program run to completion ended: its exit status and what it wrote.
public struct CompletedRun: Sendable {
    public let status: Int32
    public let output: Data
    public var text: String { String(decoding: output, as: UTF8.self) }
}

/// Runs a program to completion on the calling thread, in `directory` if given, with `input` on its
/// standard input (written from a thread of its own, so a program that answers before it has read
/// everything cannot block on a full pipe), and returns what it wrote to standard output, and to standard
/// error as well unless `withErrors` is false.
public func runToCompletion(
    _ executable: String, _ arguments: [String], input: Data? = nil, in directory: URL? = nil, withErrors: Bool = true
) throws -> CompletedRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = Pipe()
    process.standardOutput = output
    if withErrors { process.standardError = output }
    let stdin = input.map { _ in Pipe() }
    if let stdin { process.standardInput = stdin }
    try process.run()
    if let stdin, let input {
        let writer = stdin.fileHandleForWriting
        Thread.detachNewThread {
            try? writer.write(contentsOf: input)
            try? writer.close()
        }
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CompletedRun(status: process.terminationStatus, output: data)
}
