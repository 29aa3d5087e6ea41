import CCurl
import Foundation

/// Where batches go. `CurlTransport` is the real one; tests may substitute another.
public protocol BatchTransport: Sendable {
    /// POSTs a batch; returns the HTTP status and body, or throws when no answer came (connection,
    /// TLS or timeout failure).
    func post(_ batch: Data) async throws -> (status: Int, body: String)
}

/// POSTs batches to central with libcurl over TLS 1.3, presenting the edge's client certificate and
/// verifying central's certificate — peer and host name — against the pinned CA file only. The only
/// file that imports the C module.
public final class CurlTransport: BatchTransport, @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let url: String
    private let certificateFile: String
    private let keyFile: String
    private let caFile: String
    private let timeoutSeconds: Int
    private let queue = DispatchQueue(label: "tally.curl")
    /// One easy handle, used only on `queue`, so connections to central are reused between batches.
    private let handle: UnsafeMutableRawPointer

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init(url: String, certificateFile: String, keyFile: String, caFile: String, timeoutSeconds: Int = 30) throws {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { throw Failure(description: "libcurl could not create a handle") }
        self.handle = handle
        self.url = url
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.timeoutSeconds = timeoutSeconds
    }

    deinit { curl_easy_cleanup(handle) }

    public func post(_ batch: Data) async throws -> (status: Int, body: String) {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.perform(batch) })
            }
        }
    }

    /// Collects the response body; libcurl calls it with `userdata` pointing at a `ResponseBuffer`.
    private final class ResponseBuffer {
        var data = Data()
    }

    private func perform(_ batch: Data) throws -> (status: Int, body: String) {
        curl_easy_reset(handle)
        let response = ResponseBuffer()
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Content-Type: application/octet-stream")
        headers = curl_slist_append(headers, "Expect:")
        defer { curl_slist_free_all(headers) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))

        let code: CURLcode = batch.withUnsafeBytes { body in
            withExtendedLifetime(response) {
                errorBuffer.withUnsafeMutableBufferPointer { errors in
                    let options: [CURLcode] = [
                        tally_curl_setopt_string(handle, CURLOPT_URL, url),
                        tally_curl_setopt_long(handle, CURLOPT_POST, 1),
                        tally_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)),
                        tally_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)),
                        tally_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers),
                        // Mutual TLS, TLS 1.3 at least, full verification against the pinned CA only.
                        tally_curl_setopt_string(handle, CURLOPT_SSLCERT, certificateFile),
                        tally_curl_setopt_string(handle, CURLOPT_SSLKEY, keyFile),
                        tally_curl_setopt_string(handle, CURLOPT_CAINFO, caFile),
                        // No CA directory: central is trusted through the pinned CA file alone.
                        tally_curl_setopt_string(handle, CURLOPT_CAPATH, nil),
                        tally_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1),
                        tally_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2),
                        tally_curl_setopt_long(handle, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_3)),
                        tally_curl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTPS)),
                        tally_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeoutSeconds),
                        tally_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10),
                        tally_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
                        tally_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress!),
                        tally_curl_setopt_write_function(handle) { pointer, size, count, userdata in
                            guard let pointer, let userdata else { return 0 }
                            let buffer = Unmanaged<ResponseBuffer>.fromOpaque(userdata).takeUnretainedValue()
                            buffer.data.append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: size * count)
                            return size * count
                        },
                        tally_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(response).toOpaque()),
                    ]
                    if let failed = options.first(where: { $0 != CURLE_OK }) { return failed }
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(description: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        _ = tally_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return (status, String(decoding: response.data, as: UTF8.self))
    }
}
