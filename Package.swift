// swift-tools-version: 6.1
//
// Sprig's one package. `swift build` / `swift test` build the host side: the ABI, the kernel's
// logic (SprigCore, the very source the kernel boots), the model platform, the `sprig` CLI and the
// tests. The Embedded-only layers (Sources/SprigX86, Sources/SprigUser, systems/*/*) are
// cross-built by `sprig build` with swiftc for x86_64-unknown-none-elf: see docs/build.md.
import PackageDescription

let package = Package(
    name: "Sprig",
    products: [
        .executable(name: "sprig", targets: ["sprig"]),
        .library(name: "SprigCore", targets: ["SprigCore"]),
        .library(name: "SprigModel", targets: ["SprigModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .target(name: "SprigABI"),
        .target(name: "SprigCore", dependencies: ["SprigABI"]),
        .target(name: "SprigModel", dependencies: ["SprigCore", "SprigABI"]),
        .target(name: "SprigTool", dependencies: ["SprigABI", "SprigModel", .product(name: "TOMLKit", package: "TOMLKit")]),
        // The threads library's core; Partition/ is the partition's machine (Embedded only).
        .target(name: "SprigThreads", exclude: ["Partition"]),
        .executableTarget(
            name: "sprig",
            dependencies: ["SprigTool", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "SprigCoreTests",
            dependencies: ["SprigCore", "SprigModel", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "SprigModelTests",
            dependencies: ["SprigModel", "SprigCore", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(name: "SprigThreadsTests", dependencies: ["SprigThreads", "SprigABI"]),
        .testTarget(name: "BootTests", dependencies: ["SprigTool", "SprigABI", "SprigModel", "SprigCore"]),
    ]
)
