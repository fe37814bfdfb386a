// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Colony",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ColonyCore", targets: ["ColonyCore"]),
        .library(name: "ColonySimulator", targets: ["ColonySimulator"]),
        .library(name: "ColonyStore", targets: ["ColonyStore"]),
        .library(name: "ColonyTrust", targets: ["ColonyTrust"]),
        .library(name: "ColonyNIO", targets: ["ColonyNIO"]),
        .executable(name: "colony", targets: ["colony"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The pure protocol core: no clock, no sockets, no threads, no unseeded randomness.
        .target(
            name: "ColonyCore",
            dependencies: [
                .product(name: "HashTreeCollections", package: "swift-collections")
            ],
            swiftSettings: strict
        ),
        // Deterministic driver: virtual time, modelled network, faults, invariants, metrics.
        .target(
            name: "ColonySimulator",
            dependencies: ["ColonyCore"],
            swiftSettings: strict
        ),
        // Trust machinery that needs real cryptography: the keyring and sealed envelopes,
        // replay protection, Ed25519 signing for the core, certificates.
        .target(
            name: "ColonyTrust",
            dependencies: [
                "ColonyCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        // Durable node state: identity, incarnation, known peers (SQLite via GRDB, WAL).
        .target(
            name: "ColonyStore",
            dependencies: [
                "ColonyCore",
                "ColonyTrust",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The real node: SwiftNIO UDP + TCP driving the same core the simulator drives.
        .target(
            name: "ColonyNIO",
            dependencies: [
                "ColonyCore",
                "ColonyStore",
                "ColonyTrust",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The agent: a node plus its HTTP API, metrics and dashboard.
        .target(
            name: "ColonyAgent",
            dependencies: [
                "ColonyCore",
                "ColonyNIO",
                "ColonyTrust",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "colony",
            dependencies: [
                "ColonyCore",
                "ColonySimulator",
                "ColonyNIO",
                "ColonyAgent",
                "ColonyTrust",
                "ColonyStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ColonyCoreTests",
            dependencies: [
                "ColonyCore",
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ColonyStoreTests",
            dependencies: ["ColonyCore", "ColonyStore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ColonyNIOTests",
            dependencies: [
                "ColonyCore", "ColonyNIO", "ColonyTrust", "ColonyStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ColonyAgentTests",
            dependencies: [
                "ColonyCore", "ColonyNIO", "ColonyAgent", "ColonyStore", "ColonyTrust",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ColonyTrustTests",
            dependencies: ["ColonyTrust", "ColonyCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ColonySimulatorTests",
            dependencies: ["ColonyCore", "ColonySimulator"],
            swiftSettings: strict
        ),
    ]
)
