// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// What every executable links besides its own module.
let executableDependencies: [Target.Dependency] = [
    "FlowForgeShared",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "PostgresNIO", package: "postgres-nio"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    .product(name: "Logging", package: "swift-log"),
]

let package = Package(
    name: "flowforge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flowforge-api", targets: ["flowforge-api"]),
        .executable(name: "flowforge-scheduler", targets: ["flowforge-scheduler"]),
        .executable(name: "flowforge-worker", targets: ["flowforge-worker"]),
        .executable(name: "flowforge", targets: ["flowforge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Starting a step: fork and exec with nothing of the worker's but what the step is given.
        .target(name: "CStepSpawn", path: "Sources/CStepSpawn"),
        .target(
            name: "FlowForgeShared",
            dependencies: [
                "CStepSpawn",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The SMTP client of email alerts (Alerts/SMTPClient.swift).
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Sources/Shared",
            swiftSettings: strict
        ),
        .target(
            name: "FlowForgeAPI",
            dependencies: [
                "FlowForgeShared",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/API",
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/ui")],
            swiftSettings: strict
        ),
        .target(
            name: "FlowForgeScheduler",
            dependencies: [
                "FlowForgeShared",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Scheduler",
            swiftSettings: strict
        ),
        .target(
            name: "FlowForgeWorker",
            dependencies: [
                "FlowForgeShared",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Worker",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "flowforge-api",
            dependencies: ["FlowForgeAPI", .product(name: "Hummingbird", package: "hummingbird")] + executableDependencies,
            path: "Sources/flowforge-api",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "flowforge-scheduler",
            dependencies: ["FlowForgeScheduler"] + executableDependencies,
            path: "Sources/flowforge-scheduler",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "flowforge-worker",
            dependencies: ["FlowForgeWorker"] + executableDependencies,
            path: "Sources/flowforge-worker",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "flowforge",
            dependencies: [
                "FlowForgeAPI", "FlowForgeScheduler", "FlowForgeWorker",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The client commands' HTTP client (the worker's http steps use it too).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ] + executableDependencies,
            path: "Sources/flowforge",
            swiftSettings: strict
        ),
        .testTarget(
            name: "FlowForgeTests",
            dependencies: [
                "FlowForgeAPI", "FlowForgeScheduler", "FlowForgeWorker",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/FlowForgeTests",
            exclude: ["Cron/Fixtures"],
            swiftSettings: strict
        ),
    ]
)
