import Crypto
import Foundation
import Synchronization
import TallyCore

/// The random salts behind visitor ids, one per rotation period, persisted in the edge's own state file
/// (`<data_dir>/salts.json`, mode 0600) so ids stay stable across restarts within a period.
///
/// A salt is created on first use in its period and deleted once the next rotation plus one day has
/// passed (SPEC §2.2 step 9); after that, nobody — the edge included — can link the period's visitor ids
/// back to an address and user agent. Salts never leave the edge: they are not in the buffer, batches or logs.
public final class SaltStore: Sendable {
    struct Salt: Codable, Equatable {
        var rotation: String
        /// Period bounds and deletion time, seconds since 1970 UTC.
        var periodStart: Int64
        var periodEnd: Int64
        var deleteAfter: Int64
        var key: Data

        func covers(_ rotation: PrivacyPolicy.SaltRotation, _ seconds: Int64) -> Bool {
            self.rotation == rotation.rawValue && periodStart <= seconds && seconds < periodEnd
        }
    }

    /// A salt with its keyed HMAC state, dropped with the salt. `HMAC` is not declared `Sendable`, but its
    /// digest state is copy-on-write: each caller gets a copy, which copies the state before its first
    /// update, so the prepared one is only ever read.
    private struct Prepared: @unchecked Sendable {
        var salt: Salt
        var hmac: HMAC<SHA256>
        func covers(_ rotation: PrivacyPolicy.SaltRotation, _ seconds: Int64) -> Bool { salt.covers(rotation, seconds) }
    }

    private struct StateFile: Codable {
        var version = 1
        var salts: [Salt]
    }

    /// The state file; `nil` keeps salts in memory only (for `tally-edge explain`, which must not touch
    /// a running edge's state).
    public let path: String?
    private let salts: Mutex<[Salt]>
    private let prepared = Mutex<[Prepared]>([])

    public init(path: String?, now: Date) throws {
        self.path = path
        var loaded: [Salt] = []
        if let path, FileManager.default.fileExists(atPath: path) {
            do {
                try KeyFilePermissions.requirePrivate(path)
                loaded = try JSONDecoder().decode(StateFile.self, from: Data(contentsOf: URL(fileURLWithPath: path))).salts
            } catch let error as EdgeError {
                throw error
            } catch {
                throw EdgeError.saltState(path: path, reason: "unreadable: \(error)")
            }
        }
        salts = Mutex(loaded)
        try prune(now: now)
    }

    /// The salt for the period of `rotation` that contains `date`, created (and persisted) if it is new.
    public func key(for rotation: PrivacyPolicy.SaltRotation, at date: Date) throws -> SymmetricKey {
        SymmetricKey(data: try salt(for: rotation, at: date).key)
    }

    /// An HMAC-SHA-256 already keyed with that salt, to be fed and finalised by the caller. The keyed
    /// state is prepared once per salt, not once per hit.
    public func hmac(for rotation: PrivacyPolicy.SaltRotation, at date: Date) throws -> HMAC<SHA256> {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        if let prepared = prepared.withLock({ $0.first { $0.covers(rotation, seconds) }?.hmac }) { return prepared }
        let salt = try salt(for: rotation, at: date)
        let hmac = HMAC<SHA256>(key: SymmetricKey(data: salt.key))
        prepared.withLock { prepared in
            prepared.removeAll { $0.salt.deleteAfter <= seconds || $0.salt.rotation == salt.rotation }
            prepared.append(Prepared(salt: salt, hmac: hmac))
        }
        return hmac
    }

    private func salt(for rotation: PrivacyPolicy.SaltRotation, at date: Date) throws -> Salt {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        return try salts.withLock { salts in
            if let salt = salts.first(where: { $0.covers(rotation, seconds) }) { return salt }
            let (start, end) = Self.period(of: rotation, containing: date)
            let salt = Salt(
                rotation: rotation.rawValue,
                periodStart: Int64(start.timeIntervalSince1970), periodEnd: Int64(end.timeIntervalSince1970),
                deleteAfter: Int64(end.timeIntervalSince1970) + 86_400,
                key: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
            var updated = salts.filter { $0.deleteAfter > seconds }
            updated.append(salt)
            try persist(updated)
            salts = updated
            return salt
        }
    }

    /// Deletes every salt whose deletion time has passed, from memory and from the state file.
    public func prune(now: Date) throws {
        let seconds = Int64(now.timeIntervalSince1970)
        try salts.withLock { salts in
            let kept = salts.filter { $0.deleteAfter > seconds }
            guard kept.count != salts.count else { return }
            try persist(kept)
            salts = kept
        }
        prepared.withLock { $0.removeAll { $0.salt.deleteAfter <= seconds } }
    }

    /// How many salts are held now, and the next time one is due for deletion.
    public var snapshot: (count: Int, nextDeletion: Date?) {
        salts.withLock { salts in
            (salts.count, salts.map(\.deleteAfter).min().map { Date(timeIntervalSince1970: Double($0)) })
        }
    }

    /// Periods are UTC calendar days, ISO weeks (from Monday) or calendar months.
    static func period(of rotation: PrivacyPolicy.SaltRotation, containing date: Date) -> (Date, Date) {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone.gmt
        let component: Calendar.Component = switch rotation {
        case .daily: .day
        case .weekly: .weekOfYear
        case .monthly: .month
        }
        guard let interval = calendar.dateInterval(of: component, for: date) else {
            let start = calendar.startOfDay(for: date)
            return (start, start.addingTimeInterval(86_400))
        }
        return (interval.start, interval.end)
    }

    /// Writes the whole state to a private temporary file, syncs it and renames it over the old one, so a
    /// crash leaves either the old or the new state, never a torn file.
    private func persist(_ salts: [Salt]) throws {
        guard let path else { return }
        let temporary = path + ".tmp"
        do {
            let data = try JSONEncoder().encode(StateFile(salts: salts))
            _ = FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600])
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else {
                throw EdgeError.saltState(path: path, reason: String(cString: strerror(errno)))
            }
        } catch let error as EdgeError {
            throw error
        } catch {
            throw EdgeError.saltState(path: path, reason: "cannot write: \(error)")
        }
    }
}
