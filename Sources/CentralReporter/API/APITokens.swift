import Foundation

/// A reporting-API token as stored: everything but the token, of which only a SHA-256 is kept.
public struct APIToken: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable { case viewer, admin }

    public var id: Int64
    public var name: String
    /// The sites the token may read; `nil` for every site (admin tokens created with `--sites all`).
    public var sites: Set<Int>?
    public var role: Role
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    public func canRead(site: Int) -> Bool { sites?.contains(site) ?? true }
}

/// Why a bearer token was not accepted. The API answers every case with the same 401.
public enum TokenRejection: Error, Equatable {
    case unknown, revoked, expired(tokenID: Int64, name: String)
}
