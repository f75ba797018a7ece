// swift-tools-version:6.0
import PackageDescription
import Foundation

// Vector units: Swift's SIMD types compile to the host's widest vectors only when the CPU's features are
// enabled. On x86-64 the default target is SSE2 without FMA, where `addProduct` becomes a libm call per
// lane (measured: 0.8 GFLOP/s default vs 89 GFLOP/s with -march=native for the same kernel), so we build
// for the host CPU. Set SOFTLABEL_PORTABLE=1 to build a binary that runs on any x86-64 instead.
// arm64 always has NEON and fused multiply-add, so it needs no flag.
var vectorSettings: [SwiftSetting] = []
#if arch(x86_64)
if ProcessInfo.processInfo.environment["SOFTLABEL_PORTABLE"] == nil {
    vectorSettings = [.unsafeFlags(["-Xcc", "-march=native"]), .define("SOFTLABEL_FMA")]
}
#elseif arch(arm64)
vectorSettings = [.define("SOFTLABEL_FMA")]
#endif

// Prefetch instructions (`prefetchForWrite` in Vector.swift) in release builds only: ThreadSanitizer cannot
// compile them (`swift test --sanitize=thread` builds debug). SOFTLABEL_NO_PREFETCH=1 leaves them out of a
// release build too (for `swift build -c release --sanitize=thread`).
if ProcessInfo.processInfo.environment["SOFTLABEL_NO_PREFETCH"] == nil {
    vectorSettings.append(.define("SOFTLABEL_PREFETCH", .when(configuration: .release)))
}

let package = Package(
    name: "softlabel",
    products: [
        .executable(name: "softlabel", targets: ["softlabel"]),
        .library(name: "SoftLabel", targets: ["SoftLabel"]),
    ],
    targets: [
        .target(name: "SoftLabel", swiftSettings: vectorSettings + [.swiftLanguageMode(.v6)]),
        .target(name: "SoftLabelCLI", dependencies: ["SoftLabel"], swiftSettings: vectorSettings + [.swiftLanguageMode(.v6)]),
        .executableTarget(name: "softlabel", dependencies: ["SoftLabelCLI"], swiftSettings: vectorSettings + [.swiftLanguageMode(.v6)]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // The tests stay in Swift 5 mode: they share state across threads on purpose (concurrent trainers,
        // parallel file checks) in ways the checker cannot see are disjoint.
        .testTarget(name: "SoftLabelTests", dependencies: ["SoftLabel", "TestSupport"], swiftSettings: vectorSettings + [.swiftLanguageMode(.v5)]),
        .testTarget(name: "SoftLabelCLITests", dependencies: ["SoftLabelCLI", "SoftLabel", "TestSupport"],
                    swiftSettings: vectorSettings + [.swiftLanguageMode(.v5)]),
    ]
)
