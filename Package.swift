// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"])
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // The domain: employees, chats, working hours, the follow-up planner, and the
        // contracts adapters implement. No I/O, no YAML, no server.
        .target(name: "SwitchboardCore", swiftSettings: strict),
        // YAML → typed configuration, ${ENV} substitution, validation with positions.
        .target(
            name: "SwitchboardConfig",
            dependencies: ["SwitchboardCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        // The Store contract's SQLite implementation (GRDB, WAL).
        .target(
            name: "SwitchboardStoreSQLite",
            dependencies: ["SwitchboardCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        // The Store contract's PostgreSQL implementation (postgres-nio): several gateway
        // processes on one database.
        .target(
            name: "SwitchboardStorePostgres",
            dependencies: [
                "SwitchboardCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // What a channel adapter implements and receives: the plugin contract.
        .target(
            name: "SwitchboardChannelKit",
            dependencies: [
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Composers: the OpenAI-compatible client and the offline stand-in.
        .target(
            name: "SwitchboardComposer",
            dependencies: [
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Channels: one folder each, registered by YAML `type` in the executable.
        .target(
            name: "TelegramChannel",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "SwitchboardCore", "SwitchboardChannelKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Channels/Telegram",
            exclude: ["README.md", "sample.yaml"],
            swiftSettings: strict),
        // WhatsApp Cloud API: signed webhook batches in, Graph API messages out, the 24-hour window.
        .target(
            name: "WhatsAppChannel",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "SwitchboardCore", "SwitchboardChannelKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Channels/WhatsApp",
            exclude: ["README.md", "sample.yaml"],
            swiftSettings: strict),
        // The website chat widget: widget.js, the demo page, and the WebSocket protocol's logic
        // (frames, signed visitor tokens, replay from the store, rate limits) — no HTTP server.
        .target(
            name: "WidgetChannel",
            dependencies: [
                "SwitchboardCore", "SwitchboardChannelKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Channels/Widget",
            exclude: ["README.md", "sample.yaml"],
            resources: [.embedInCode("widget.js"), .embedInCode("demo.html")],
            swiftSettings: strict),
        // libcurl, for the email channel's IMAP and SMTP (typed wrappers around its variadic calls).
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        // Email: IMAP polling (or a Mailgun webhook) in, SMTP out, through libcurl on a thread pool of its own;
        // the MIME parser, reply stripper, robot detection and the composer of threaded replies.
        .target(
            name: "EmailChannel",
            dependencies: [
                "CCurl", "SwitchboardCore", "SwitchboardChannelKit",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Channels/Email",
            exclude: ["README.md", "sample.yaml"],
            swiftSettings: strict),
        // The generic channel: any system that speaks signed JSON over HTTP (docs/http-channel.md).
        .target(
            name: "HTTPChannel",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "SwitchboardCore", "SwitchboardChannelKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Channels/HTTP",
            exclude: ["README.md", "sample.yaml"],
            swiftSettings: strict),
        // In-process fakes of the providers (Telegram Bot API, WhatsApp Graph API, OpenAI-compatible server) on 127.0.0.1.
        .target(
            name: "SwitchboardFakes",
            dependencies: [
                "SwitchboardCore", "SwitchboardTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // The long-running service that claims due reminders and carries out the plan.
        .target(
            name: "SwitchboardScheduler",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // The channel registry: the one target that imports channel modules (one line per type).
        .target(
            name: "SwitchboardChannels",
            dependencies: ["SwitchboardChannelKit", "TelegramChannel", "WhatsAppChannel", "WidgetChannel", "HTTPChannel", "EmailChannel"],
            swiftSettings: strict),
        // The composition root: HTTP routes (webhooks, admin API, pages, metrics), the channel
        // catalog it is given, and the service order. Used by `switchboard serve` and by the tests.
        .target(
            name: "SwitchboardServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "SwitchboardCore", "SwitchboardConfig", "SwitchboardStoreSQLite", "SwitchboardStorePostgres", "SwitchboardScheduler",
                "SwitchboardChannelKit", "SwitchboardComposer",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // The console's pages are Mustache templates (one per page, plus the layout and
            // partials) and its stylesheet and script are plain files, embedded in the binary
            // so `switchboard` stays one file to deploy. `ConsoleTemplates` lists them; a test
            // fails when a file in Templates/ or Assets/ is not embedded.
            resources: [
                .embedInCode("Templates/layout.mustache"),
                .embedInCode("Templates/inbox.mustache"),
                .embedInCode("Templates/inbox_rows.mustache"),
                .embedInCode("Templates/usage.mustache"),
                .embedInCode("Templates/usage_chart.mustache"),
                .embedInCode("Templates/chat_composer.mustache"),
                .embedInCode("Templates/employees.mustache"),
                .embedInCode("Templates/employee.mustache"),
                .embedInCode("Templates/followups.mustache"),
                .embedInCode("Templates/followups_rows.mustache"),
                .embedInCode("Templates/signin.mustache"),
                .embedInCode("Templates/message.mustache"),
                .embedInCode("Templates/chat.mustache"),
                .embedInCode("Assets/admin.css"),
                .embedInCode("Assets/admin.js"),
            ],
            swiftSettings: strict),
        // Benchmarks for the closing notes and bench/README.md: `swift run -c release switchboard-bench`.
        .executableTarget(
            name: "switchboard-bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                "SwitchboardCore", "SwitchboardConfig", "SwitchboardStoreSQLite", "SwitchboardStorePostgres", "SwitchboardServer", "SwitchboardChannels",
                "SwitchboardFakes", "SwitchboardTesting", "SwitchboardScheduler", "EmailChannel", "SwitchboardChannelKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/SwitchboardBench",
            swiftSettings: strict),
        // The bare-server ceiling bench/ingest.sh measures the gateway against.
        .executableTarget(
            name: "switchboard-bench-ceiling",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Sources/BenchCeiling",
            swiftSettings: strict),
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "SwitchboardCore", "SwitchboardConfig", "SwitchboardStoreSQLite", "SwitchboardStorePostgres", "SwitchboardScheduler", "SwitchboardServer",
                "SwitchboardChannels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        // Test kit: manual clock, fakes, the Store contract suite.
        .target(name: "SwitchboardTesting", dependencies: ["SwitchboardCore"], resources: [.embedInCode("smtp_recorder.py")], swiftSettings: strict),
        .testTarget(name: "SwitchboardCoreTests", dependencies: ["SwitchboardCore", "SwitchboardTesting"], swiftSettings: strict),
        .testTarget(
            name: "SwitchboardComposerTests",
            dependencies: [
                "SwitchboardComposer", "SwitchboardFakes", "SwitchboardTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "TelegramChannelTests",
            dependencies: ["TelegramChannel", "SwitchboardChannelKit", "SwitchboardFakes", "SwitchboardTesting", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            resources: [.copy("Fixtures")],
            swiftSettings: strict),
        .testTarget(
            name: "HTTPChannelTests",
            dependencies: [
                "HTTPChannel", "SwitchboardChannelKit", "SwitchboardFakes", "SwitchboardTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "WhatsAppChannelTests",
            dependencies: [
                "WhatsAppChannel", "SwitchboardChannelKit", "SwitchboardFakes", "SwitchboardTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "EmailChannelTests",
            dependencies: [
                "EmailChannel", "SwitchboardChannelKit", "SwitchboardCore", "SwitchboardTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict),
        .testTarget(
            name: "WidgetChannelTests",
            dependencies: [
                "WidgetChannel", "SwitchboardChannelKit", "SwitchboardStoreSQLite", "SwitchboardTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SwitchboardServerTests",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                "SwitchboardServer", "SwitchboardChannels", "SwitchboardConfig", "SwitchboardFakes", "SwitchboardTesting", "SwitchboardStoreSQLite",
                // Only to read the mails the email tests' SMTP server records (its MIME parser).
                "EmailChannel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // Runs the built `switchboard` executable as a subprocess: exit status, output, errors.
        .testTarget(
            name: "SwitchboardCLITests",
            dependencies: [
                "SwitchboardCore", "SwitchboardConfig", "SwitchboardStoreSQLite", "SwitchboardStorePostgres", "SwitchboardFakes", "SwitchboardTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict),
        .testTarget(name: "SwitchboardConfigTests", dependencies: ["SwitchboardConfig", "SwitchboardTesting"], swiftSettings: strict),
        .testTarget(
            name: "SwitchboardStoreSQLiteTests",
            dependencies: ["SwitchboardStoreSQLite", "SwitchboardTesting", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: strict),
        // Runs the Store contract against a real PostgreSQL the tests start themselves (initdb
        // into a temporary directory), or the one SWITCHBOARD_TEST_POSTGRES_URL names.
        .testTarget(
            name: "SwitchboardStorePostgresTests",
            dependencies: [
                "SwitchboardStorePostgres", "SwitchboardStoreSQLite", "SwitchboardScheduler", "SwitchboardTesting", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "SwitchboardSchedulerTests",
            dependencies: ["SwitchboardScheduler", "SwitchboardStoreSQLite", "SwitchboardTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
    ]
)
