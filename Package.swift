// swift-tools-version: 6.1
import PackageDescription

/// One set of settings for every target: strict concurrency comes with the Swift 6 language mode;
/// `ExistentialAny` makes every use of a protocol as a type visible at the call site.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The daemons link with the toolchain's lld, whose packed relocations (RELR) shrink the table the
/// loader reads at start-up from megabytes to kilobytes: with the Swift runtime linked in
/// (`--static-swift-stdlib`, as deployments build them), that table was 2.7 MB of the edge's memory.
let packedRelocations: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux])),
]

let package = Package(
    name: "Tally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tally-edge", targets: ["tally-edge"]),
        .executable(name: "tally-central", targets: ["tally-central"]),
        .library(name: "TallyCore", targets: ["TallyCore"]),
        .library(name: "EdgeCollector", targets: ["EdgeCollector"]),
        .library(name: "CentralReporter", targets: ["CentralReporter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The edge's allocator: its request path allocates and frees on two event loops and a writer,
        // where jemalloc's per-thread caches cost less than the C library's arenas (docs/performance.md).
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        .systemLibrary(
            name: "CMaxMindDB",
            pkgConfig: "libmaxminddb",
            providers: [.apt(["libmaxminddb-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "TallyCore",
            dependencies: [
                "CZlib",
                "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Listener protections both daemons share (deadlines, per-client caps); a module of its own so
        // TallyCore stays free of networking and the two libraries still never import each other.
        .target(
            name: "TallyHTTP",
            dependencies: [
                "TallyCore",
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        // What a tracking client sends, decoded and bounded (query strings, form and bulk bodies, the JSON
        // beacon): free of networking and storage, so the fuzz targets build it in minutes.
        // Matomo's device-detector algorithm over its YAML regex database (read at start-up from the
        // directory `device_database` names).
        .target(
            name: "DeviceDetection",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrackingInput",
            dependencies: ["TallyCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EdgeCollector",
            dependencies: [
                "TallyCore",
                "TallyHTTP",
                "TrackingInput",
                "DeviceDetection",
                "CMaxMindDB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CentralReporter",
            dependencies: [
                "TallyCore",
                "TallyHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tally-central",
            dependencies: [
                "CentralReporter",
                "TallyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: packedRelocations
        ),
        .executableTarget(
            name: "tally-edge",
            dependencies: [
                "CJemalloc",
                "EdgeCollector",
                "TallyCore",
                "TrackingInput",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: packedRelocations
        ),
        .executableTarget(
            name: "tally-bench",
            dependencies: [
                "CentralReporter",
                "EdgeCollector",
                "TallyCore",
                "TrackingInput",
                "DeviceDetection",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                "TallyHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: waiting for changes made by other processes, running
        // programs to completion, loopback ports for servers.
        .target(
            name: "TallyTestSupport",
            path: "Tests/TallyTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyCoreTests",
            dependencies: ["TallyCore", "TallyTestSupport"],
            // The batch test vector, read from its path by the tests.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DeviceDetectionTests",
            dependencies: ["DeviceDetection", "TallyCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EdgeCollectorTests",
            dependencies: [
                "EdgeCollector",
                "TallyCore",
                "TrackingInput",
                "DeviceDetection",
                "TallyTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CentralReporterTests",
            dependencies: [
                "CentralReporter",
                "TallyCore",
                "TallyTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Matomo's documented answer shapes, read from its path by the tests.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "TallyCore",
                "TallyTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            // Captured client requests and sample logs, read from their path by the tests.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)

// libFuzzer targets over every parser of untrusted input (Fuzz/README.md). They exist only in a fuzzing
// build, `TALLY_FUZZ=1 swift build --sanitize=fuzzer`, whose libFuzzer supplies `main`; scripts/fuzz.sh
// builds and runs them.
if Context.environment["TALLY_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "tally-fuzz",
            dependencies: [
                "TallyCore",
                "TrackingInput",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Fuzz/Sources",
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        )
    )
}
