import Hummingbird
import NIOCore
import NIOSSL
import X509

/// Request context on the ingest listener: keeps the connection so the handler can read the client
/// certificate the TLS handshake verified against the edge CA.
public struct IngestRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The edge id the verified client certificate names: its subject common name.
    func certificateEdgeID() async -> String? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(),
              let der = try? certificate.toDERBytes(),
              let parsed = try? Certificate(derEncoded: der)
        else { return nil }
        for rdn in parsed.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let name = String(attribute.value) { return name }
            }
        }
        return nil
    }
}
