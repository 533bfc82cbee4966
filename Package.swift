// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "shardscan",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "shardscan", targets: ["shardscan"]),
        // For the fuzz targets in Fuzz/, which depend on this package by path.
        .library(name: "ShardScanCore", targets: ["ShardScanCore"]),
        .library(name: "ShardScanEngine", targets: ["ShardScanEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries from Debian's -dev packages (ci/install-deps.sh installs them).
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CHyperscan", pkgConfig: "libhs", providers: [.apt(["libhyperscan-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CMalloc"),

        // Thin safe wrappers: the only modules that see C types.
        .target(name: "PCRE2", dependencies: ["CPCRE2"]),
        // Git takes its object id type from the core, so that ids cross from git to the store unconverted; it also
        // reads packs itself (PackSet, PackReader): zlib inflates, SHA-1 checks each object's id.
        .target(
            name: "Git",
            dependencies: ["CGit2", "CZlib", "CDeflate", "CMalloc", "ShardScanCore", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Hyperscan", dependencies: ["CHyperscan"]),

        .target(
            name: "ShardScanCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "ShardScanEngine",
            dependencies: [
                "ShardScanCore", "PCRE2", "Hyperscan", "Git",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShardScanStore",
            dependencies: [
                "ShardScanCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The demo mirror `shardscan demo` builds, and tests scan: generated, fake credentials only.
        .target(name: "ShardScanDemo", dependencies: ["ShardScanCore", "Git"]),
        .target(name: "ShardScanReports", dependencies: ["ShardScanCore", "ShardScanStore"]),
        .target(
            name: "ShardScanCLI",
            dependencies: [
                "ShardScanCore", "ShardScanEngine", "ShardScanStore", "ShardScanReports", "ShardScanDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "shardscan", dependencies: ["ShardScanCLI"]),

        .testTarget(name: "PCRE2Tests", dependencies: ["PCRE2"]),
        .testTarget(name: "GitTests", dependencies: ["Git"]),
        .testTarget(name: "HyperscanTests", dependencies: ["Hyperscan"]),
        .testTarget(name: "ShardScanCoreTests", dependencies: ["ShardScanCore"]),
        .testTarget(
            name: "ShardScanEngineTests", dependencies: ["ShardScanEngine", "ShardScanCore", "ShardScanStore", "Git"]),
        .testTarget(
            name: "ShardScanReportsTests",
            dependencies: [
                "ShardScanReports", "ShardScanStore", "ShardScanCore", "ShardScanEngine", "ShardScanDemo", "Git",
            ]
        ),
        .testTarget(
            name: "ShardScanStoreTests",
            dependencies: ["ShardScanStore", "ShardScanCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "ShardScanCLITests",
            dependencies: [
                "ShardScanCLI", "ShardScanEngine", "ShardScanStore", "ShardScanCore", "ShardScanReports",
                "ShardScanDemo", "Git", .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
