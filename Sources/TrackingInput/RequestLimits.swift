/// Bounds on every request, so no client can make the edge allocate or parse without limit.
public struct RequestLimits: Sendable, Equatable {
    /// Longest request target (path and query) in bytes; longer answers 414.
    public var maxURLBytes: Int = 8192
    /// Largest request body in bytes (bulk requests included); larger answers 413.
    public var maxBodyBytes: Int = 1 << 20
    /// Most query or form parameters in one tracking request.
    public var maxParameters: Int = 100
    /// Most requests in one Matomo bulk request. The body size bounds them already; this caps them
    /// further where an operator wants (the default is the highest allowed value).
    public var maxBulkRequests: Int = 100_000
    /// Longest single parameter value in bytes (URLs and titles included).
    public var maxValueBytes: Int = 4096

    public init() {}
}
