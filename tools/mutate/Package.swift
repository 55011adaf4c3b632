// swift-tools-version: 6.1
//
// The mutant generator of `sprig mutate` (docs/mutate.md): reads Sources/SprigCore with
// swift-syntax and writes a mutant-schemata copy of it (every mutant compiled in, one chosen at
// run time) plus the list of mutants. A package of its own so that swift-syntax is built only by
// `sprig mutate`, never by the kernel's or the CLI's build.
import PackageDescription

let package = Package(
    name: "SprigMutagen",
    dependencies: [
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
    ],
    targets: [
        .executableTarget(
            name: "sprig-mutagen",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftParser", package: "swift-syntax"),
                .product(name: "SwiftOperators", package: "swift-syntax"),
            ]
        ),
    ]
)
