import Foundation
import Synchronization

/// Counts failed authentications per client; a client with too many in the window is answered 429
/// for a cool-down, whatever it sends, so tokens cannot be guessed at speed.
final class FailureLimiter: Sendable {
    private struct Client {
        var failures: [Date] = []
        var blockedUntil: Date?
    }

    private let clients = Mutex<[String: Client]>([:])
    let maxFailures: Int
    let window: TimeInterval
    let cooldown: TimeInterval

    init(maxFailures: Int, window: TimeInterval, cooldown: TimeInterval) {
        self.maxFailures = maxFailures
        self.window = window
        self.cooldown = cooldown
    }

    /// Seconds left of the client's cool-down, or nil when it may try.
    func coolingDown(_ client: String, now: Date) -> Int? {
        clients.withLock { clients in
            guard let until = clients[client]?.blockedUntil, until > now else { return nil }
            return Int(until.timeIntervalSince(now).rounded(.up))
        }
    }

    func recordFailure(_ client: String, now: Date) {
        clients.withLock { clients in
            var entry = clients[client] ?? Client()
            entry.failures = entry.failures.filter { now.timeIntervalSince($0) < window } + [now]
            if entry.failures.count >= maxFailures {
                entry.blockedUntil = now.addingTimeInterval(cooldown)
                entry.failures = []
            }
            clients[client] = entry
            // Bound the table: forget clients with nothing recent.
            if clients.count > 10_000 {
                clients = clients.filter { $0.value.blockedUntil.map { $0 > now } ?? !$0.value.failures.isEmpty }
            }
        }
    }
}
