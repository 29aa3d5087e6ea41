import CMaxMindDB
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A GeoIP2/GeoLite2 City or Country database read with libmaxminddb. The only file that imports the C
/// module: it hands back `GeoResult` values with their strings already copied out.
///
/// The database is memory-mapped; libmaxminddb lookups on an opened database are thread-safe
/// (libmaxminddb docs, "Thread Safety"), so one instance serves every request. Results are cached per
/// address: one visitor sends many hits from one address. `@unchecked Sendable` rests on that guarantee:
/// the pointer is written only in `init` and `deinit`.
public final class MaxMindGeoLocator: GeoLocator, @unchecked Sendable {
    private let database: UnsafeMutablePointer<MMDB_s>
    private let cache = Mutex<[IPAddress: GeoResult]>([:])
    private let cacheLimit: Int

    public init(path: String, cacheLimit: Int = 50_000) throws {
        database = .allocate(capacity: 1)
        self.cacheLimit = cacheLimit
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), database)
        guard status == MMDB_SUCCESS else {
            database.deallocate()
            throw EdgeError.geoDatabase(path: path, reason: String(cString: MMDB_strerror(status)))
        }
    }

    deinit {
        MMDB_close(database)
        database.deallocate()
    }

    public func locate(_ address: IPAddress) -> GeoResult? {
        if let cached = cache.withLock({ $0[address] }) { return cached }
        guard let result = lookup(address) else { return nil }
        cache.withLock { cache in
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[address] = result
        }
        return result
    }

    private func lookup(_ address: IPAddress) -> GeoResult? {
        var mmdbError: Int32 = MMDB_SUCCESS
        var result = withSockaddr(address) { sockaddr in
            MMDB_lookup_sockaddr(database, sockaddr, &mmdbError)
        }
        guard mmdbError == MMDB_SUCCESS, result.found_entry else { return nil }
        return GeoResult(
            country: string(&result.entry, "country", "iso_code"),
            region: string(&result.entry, "subdivisions", "0", "iso_code"),
            city: string(&result.entry, "city", "names", "en"))
    }

    /// The UTF-8 string at a path, copied out at once: MaxMind strings are not NUL-terminated and point
    /// into the mapped file.
    private func string(_ entry: inout MMDB_entry_s, _ path: String...) -> String? {
        var data = MMDB_entry_data_s()
        let status: Int32 = switch path.count {
        case 2: tally_mmdb_get_value2(&entry, &data, path[0], path[1])
        case 3: tally_mmdb_get_value3(&entry, &data, path[0], path[1], path[2])
        default: MMDB_INVALID_LOOKUP_PATH_ERROR
        }
        guard status == MMDB_SUCCESS, data.has_data, data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING),
              let pointer = data.utf8_string
        else { return nil }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: Int(data.data_size))
        let text = String(decoding: bytes, as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    private func withSockaddr<T>(_ address: IPAddress, _ body: (UnsafePointer<sockaddr>) -> T) -> T {
        if address.isIPv4 {
            var storage = sockaddr_in()
            storage.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &storage.sin_addr) { $0.copyBytes(from: address.bytes) }
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
        }
        var storage = sockaddr_in6()
        storage.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &storage.sin6_addr) { $0.copyBytes(from: address.bytes) }
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1, body) }
    }
}
