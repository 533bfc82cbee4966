// swift-tools-version: 6.0
// libFuzzer targets for shardscan. Build and run them with `scripts/fuzz` (see Fuzz/README.md); every target
// links the real ShardScanCore / ShardScanEngine of the package one folder up.
import PackageDescription

let package = Package(
    name: "shardscan-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "shardscan", path: "..")
    ],
    targets: [
        // Declares LLVMFuzzerRunDriver; the libFuzzer runtime itself comes with `-sanitize=fuzzer`.
        .systemLibrary(name: "CLibFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CLibFuzzer",
                .product(name: "ShardScanCore", package: "shardscan"),
                .product(name: "ShardScanEngine", package: "shardscan"),
            ]
        ),
        .executableTarget(
            name: "FuzzRuleLoader",
            dependencies: [
                "FuzzSupport",
                .product(name: "ShardScanCore", package: "shardscan"),
                .product(name: "ShardScanEngine", package: "shardscan"),
            ]
        ),
        .executableTarget(
            name: "FuzzMatcher",
            dependencies: [
                "FuzzSupport",
                .product(name: "ShardScanCore", package: "shardscan"),
                .product(name: "ShardScanEngine", package: "shardscan"),
            ]
        ),
        .executableTarget(
            name: "FuzzDecoding",
            dependencies: ["FuzzSupport", .product(name: "ShardScanEngine", package: "shardscan")]
        ),
        .executableTarget(
            name: "FuzzReleasePath",
            dependencies: ["FuzzSupport", .product(name: "ShardScanCore", package: "shardscan")]
        ),
        .executableTarget(
            name: "FuzzTokens",
            dependencies: ["FuzzSupport", .product(name: "ShardScanCore", package: "shardscan")]
        ),
        .executableTarget(
            name: "FuzzRedaction",
            dependencies: ["FuzzSupport", .product(name: "ShardScanCore", package: "shardscan")]
        ),
        .executableTarget(
            name: "FuzzPathEncoding",
            dependencies: ["FuzzSupport", .product(name: "ShardScanCore", package: "shardscan")]
        ),
        // Not a fuzz target: writes the minted seed files of Corpus/ (`FuzzSeeds Fuzz/Corpus`).
        .executableTarget(
            name: "FuzzSeeds",
            dependencies: [.product(name: "ShardScanCore", package: "shardscan")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
