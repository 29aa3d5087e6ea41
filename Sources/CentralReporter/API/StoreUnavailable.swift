import GRDB
import HTTPTypes
import Hummingbird
import Logging

/// Answers 503 with `Retry-After` when a request fails because the store cannot be reached now (the
/// PostgreSQL database is down, restarting or out of connections; the SQLite file is locked, full or
/// failing), instead of 500: nothing is wrong with the request, and the same request succeeds once the
/// store is back, without a restart of central.
struct StoreUnavailableMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            guard let reason = storeUnavailable(error) else { throw error }
            logger.warning("Request refused: the store cannot be reached", metadata: ["path": "\(request.uri.path)", "reason": "\(reason)"])
            var response = plain("Central's store cannot be reached now; retry later.", .serviceUnavailable)
            response.headers[.retryAfter] = "5"
            return response
        }
    }
}

/// Why a store operation failed, when the cause is the store being unreachable or overloaded now rather
/// than the operation itself.
func storeUnavailable(_ error: any Error) -> String? {
    switch error {
    case let CentralError.storeUnavailable(_, reason):
        return reason
    case let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN].contains(error.resultCode):
        return error.message ?? "\(error.resultCode)"
    default:
        return nil
    }
}
