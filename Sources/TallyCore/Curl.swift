import CCurl
import Foundation

/// libcurl, for the two things Tally sends: batches over mutual TLS (the edge) and mail over SMTP
/// (central). The only file that imports the C module. Each instance owns one easy handle, used on its
/// own serial queue so connections are reused and no cooperative thread waits on the network.
public final class Curl: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let queue = DispatchQueue(label: "tally.curl")
    private let handle: UnsafeMutableRawPointer

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init() throws {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { throw Failure(description: "libcurl could not create a handle") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// POSTs `body` with TLS 1.3 at least, presenting a client certificate and verifying the server's peer
    /// and host name against `caFile` only. Returns the HTTP status and body.
    public func post(url: String, body: Data, certificateFile: String, keyFile: String, caFile: String, timeoutSeconds: Int) async throws -> (status: Int, body: String) {
        try await onQueue {
            let response = ResponseBuffer()
            var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Content-Type: application/octet-stream")
            headers = curl_slist_append(headers, "Expect:")
            defer { curl_slist_free_all(headers) }
            try body.withUnsafeBytes { bytes in
                try self.perform([
                    tally_curl_setopt_string(self.handle, CURLOPT_URL, url),
                    tally_curl_setopt_long(self.handle, CURLOPT_POST, 1),
                    tally_curl_setopt_pointer(self.handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)),
                    tally_curl_setopt_off(self.handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)),
                    tally_curl_setopt_slist(self.handle, CURLOPT_HTTPHEADER, headers),
                    tally_curl_setopt_string(self.handle, CURLOPT_SSLCERT, certificateFile),
                    tally_curl_setopt_string(self.handle, CURLOPT_SSLKEY, keyFile),
                    tally_curl_setopt_long(self.handle, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_3)),
                    tally_curl_setopt_long(self.handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTPS)),
                ] + self.verification(caFile: caFile) + self.collect(into: response), timeoutSeconds: timeoutSeconds)
            }
            var status = 0
            _ = tally_curl_getinfo_long(self.handle, CURLINFO_RESPONSE_CODE, &status)
            return (status, String(decoding: response.data, as: UTF8.self))
        }
    }

    /// Sends one message over SMTP. `smtp://` upgrades with STARTTLS and, when `requireTLS`, fails if the
    /// server cannot; `smtps://` is TLS from the start. The relay's certificate is verified (against
    /// `caFile` when given, else the system's roots).
    public func sendMail(url: String, from: String, recipients: [String], message: Data, requireTLS: Bool,
                         username: String?, password: String?, caFile: String?, timeoutSeconds: Int) async throws {
        try await onQueue {
            var rcpt: UnsafeMutablePointer<curl_slist>?
            for recipient in recipients { rcpt = curl_slist_append(rcpt, "<\(recipient)>") }
            defer { curl_slist_free_all(rcpt) }
            let upload = UploadBuffer(message)
            var options: [CURLcode] = [
                tally_curl_setopt_string(self.handle, CURLOPT_URL, url),
                tally_curl_setopt_string(self.handle, CURLOPT_MAIL_FROM, "<\(from)>"),
                tally_curl_setopt_slist(self.handle, CURLOPT_MAIL_RCPT, rcpt),
                tally_curl_setopt_long(self.handle, CURLOPT_UPLOAD, 1),
                tally_curl_setopt_long(self.handle, CURLOPT_USE_SSL, Int(requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_NONE.rawValue)),
                tally_curl_setopt_long(self.handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_SMTP | CURLPROTO_SMTPS)),
                tally_curl_setopt_read_function(self.handle) { buffer, size, count, userdata in
                    guard let buffer, let userdata else { return 0 }
                    return Unmanaged<UploadBuffer>.fromOpaque(userdata).takeUnretainedValue().read(into: buffer, max: size * count)
                },
                tally_curl_setopt_pointer(self.handle, CURLOPT_READDATA, Unmanaged.passUnretained(upload).toOpaque()),
            ]
            if let username { options.append(tally_curl_setopt_string(self.handle, CURLOPT_USERNAME, username)) }
            if let password { options.append(tally_curl_setopt_string(self.handle, CURLOPT_PASSWORD, password)) }
            options += self.verification(caFile: caFile)
            try withExtendedLifetime(upload) {
                try self.perform(options, timeoutSeconds: timeoutSeconds)
            }
        }
    }

    private func verification(caFile: String?) -> [CURLcode] {
        var options = [
            tally_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1),
            tally_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2),
        ]
        if let caFile {
            options.append(tally_curl_setopt_string(handle, CURLOPT_CAINFO, caFile))
            // No CA directory: the server is trusted through the pinned CA file alone.
            options.append(tally_curl_setopt_string(handle, CURLOPT_CAPATH, nil))
        }
        return options
    }

    private func collect(into response: ResponseBuffer) -> [CURLcode] {
        [
            tally_curl_setopt_write_function(handle) { pointer, size, count, userdata in
                guard let pointer, let userdata else { return 0 }
                Unmanaged<ResponseBuffer>.fromOpaque(userdata).takeUnretainedValue().data
                    .append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: size * count)
                return size * count
            },
            tally_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(response).toOpaque()),
        ]
    }

    /// Runs the transfer once the options are set; the options array was built after `curl_easy_reset`.
    private func perform(_ options: [CURLcode], timeoutSeconds: Int) throws {
        var errors = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
        let code = errors.withUnsafeMutableBufferPointer { buffer -> CURLcode in
            let common = [
                tally_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeoutSeconds),
                tally_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10),
                tally_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1),
                tally_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, buffer.baseAddress!),
            ]
            if let failed = (options + common).first(where: { $0 != CURLE_OK }) { return failed }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(description: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
    }

    /// Resets the handle and runs `body` on the handle's queue.
    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                curl_easy_reset(self.handle)
                continuation.resume(with: Result { try body() })
            }
        }
    }

    private final class ResponseBuffer {
        var data = Data()
    }

    private final class UploadBuffer {
        let data: Data
        var offset = 0
        init(_ data: Data) { self.data = data }

        func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
            let count = min(max, data.count - offset)
            guard count > 0 else { return 0 }
            data.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
            }
            offset += count
            return count
        }
    }
}
