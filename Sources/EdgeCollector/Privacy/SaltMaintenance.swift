import Logging
import ServiceLifecycle
import TallyCore

/// Deletes expired salts on time even when no hits arrive (a quiet site must not keep an old salt).
struct SaltMaintenance: Service, CustomStringConvertible {
    let salts: SaltStore
    let clock: any TallyClock
    let interval: Duration
    let logger: Logger

    var description: String { "SaltMaintenance(every \(interval))" }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try salts.prune(now: clock.now())
                } catch {
                    logger.error("Expired salts could not be deleted", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
