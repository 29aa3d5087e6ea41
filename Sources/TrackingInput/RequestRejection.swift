/// Why a request was refused before anything was stored: an HTTP status and a one-line reason the client
/// sees. Rejections are counted under the `invalid_request` or `unknown_site` drop reasons.
public struct RequestRejection: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public var dropReason: DropReason

    public init(status: Int = 400, _ reason: String, dropReason: DropReason = .invalidRequest) {
        self.status = status
        self.reason = reason
        self.dropReason = dropReason
    }

    public var description: String { reason }
}
