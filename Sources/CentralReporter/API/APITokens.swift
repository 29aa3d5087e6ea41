import Crypto
import Foundation
import GRDB
import TallyCore

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

extension CentralStore {
    /// Creates a token and returns it with its record; the token text is shown once and not stored.
    public func createToken(name: String, sites: Set<Int>?, role: APIToken.Role, expiresAt: Date?, now: Date) async throws -> (token: String, record: APIToken) {
        var random = [UInt8](repeating: 0, count: 32)
        for i in random.indices { random[i] = UInt8.random(in: .min ... .max) }
        let token = "tly_" + Data(random).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let siteList = sites.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "*"
        let id = try await writer.write { db -> Int64 in
            try db.execute(
                sql: "INSERT INTO api_tokens (name, token_sha256, sites, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [name, Self.tokenHash(token), siteList, role.rawValue, now.millisecondsSince1970, expiresAt?.millisecondsSince1970])
            let id = db.lastInsertedRowID
            try Self.audit(db, "token_created", "id=\(id) name=\(name) role=\(role.rawValue) sites=\(siteList) expires=\(expiresAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never")", now)
            return id
        }
        return (token, APIToken(id: id, name: name, sites: sites, role: role, createdAt: now, expiresAt: expiresAt))
    }

    public func tokens() throws -> [APIToken] {
        try writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM api_tokens ORDER BY id").map(Self.token) }
    }

    /// Revokes a token by id; `false` when there is no such (unrevoked) token.
    public func revokeToken(id: Int64, now: Date) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now.millisecondsSince1970, id])
            guard db.changesCount > 0 else { return false }
            try Self.audit(db, "token_revoked", "id=\(id)", now)
            return true
        }
    }

    /// The token's record if it may be used now. A use after expiry is audited.
    public func authenticate(token: String, now: Date) async throws -> Result<APIToken, TokenRejection> {
        let hash = Self.tokenHash(token)
        guard let record = try await writer.read({ db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_tokens WHERE token_sha256 = ?", arguments: [hash]).map(Self.token)
        }) else { return .failure(.unknown) }
        if record.revokedAt != nil { return .failure(.revoked) }
        if let expires = record.expiresAt, expires <= now {
            try await audit("token_used_after_expiry", detail: "id=\(record.id) name=\(record.name)", at: now)
            return .failure(.expired(tokenID: record.id, name: record.name))
        }
        try await writer.write { db in
            try db.execute(sql: "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", arguments: [now.millisecondsSince1970, record.id])
        }
        return .success(record)
    }

    static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func token(_ row: Row) -> APIToken {
        let sites: String = row["sites"]
        return APIToken(
            id: row["id"], name: row["name"],
            sites: sites == "*" ? nil : Set(sites.split(separator: ",").compactMap { Int($0) }),
            role: APIToken.Role(rawValue: row["role"]) ?? .viewer,
            createdAt: Date(millisecondsSince1970: row["created_at"]),
            expiresAt: (row["expires_at"] as Int64?).map(Date.init(millisecondsSince1970:)),
            revokedAt: (row["revoked_at"] as Int64?).map(Date.init(millisecondsSince1970:)),
            lastUsedAt: (row["last_used_at"] as Int64?).map(Date.init(millisecondsSince1970:)))
    }

    static func audit(_ db: Database, _ event: String, _ detail: String, _ at: Date) throws {
        try db.execute(sql: "INSERT INTO audit_log (at, event, detail) VALUES (?, ?, ?)", arguments: [at.millisecondsSince1970, event, detail])
    }
}
