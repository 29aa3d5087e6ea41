@testable import EdgeCollector
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import TallyCore
import Testing

@Suite("The edge's connection handler")
struct ListenerTests {
    @Test("A request half received when the edge is told to stop is still answered, with Connection: close, then the connection closes")
    func stopMidRequest() throws {
        let directory = try TemporaryDirectory()
        let components = try EdgeComponents(config: try Fixtures.config(dataDir: directory.file("data")), logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handler: EdgeHTTPHandler(routes: EdgeRoutes(components: components, clock: SystemClock()), maxBodyBytes: 1024))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/nothing")))
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive, "the request under way keeps the connection open")
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        let answer = try #require(try channel.readOutbound(as: ByteBuffer.self)).getString(at: 0, length: 200) ?? ""
        #expect(answer.hasPrefix("HTTP/1.1 404") && answer.contains("Connection: close"), "\(answer)")
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive, "closed once the request is answered")
    }
}
