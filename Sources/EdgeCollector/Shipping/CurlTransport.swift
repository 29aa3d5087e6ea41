import Foundation
import TallyCore

/// Where batches go. `CurlTransport` is the real one; tests may substitute another.
public protocol BatchTransport: Sendable {
    /// POSTs a batch; returns the HTTP status and body, or throws when no answer came (connection,
    /// TLS or timeout failure).
    func post(_ batch: Data) async throws -> (status: Int, body: String)
}

/// POSTs batches to central with libcurl over TLS 1.3, presenting the edge's client certificate and
/// verifying central's certificate — peer and host name — against the pinned CA file only.
public struct CurlTransport: BatchTransport {
    private let curl: Curl
    private let url: String
    private let certificateFile: String
    private let keyFile: String
    private let caFile: String
    private let timeoutSeconds: Int

    public init(url: String, certificateFile: String, keyFile: String, caFile: String, timeoutSeconds: Int = 30) throws {
        curl = try Curl()
        self.url = url
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.timeoutSeconds = timeoutSeconds
    }

    public func post(_ batch: Data) async throws -> (status: Int, body: String) {
        try await curl.post(url: url, body: batch, certificateFile: certificateFile, keyFile: keyFile, caFile: caFile, timeoutSeconds: timeoutSeconds)
    }
}
