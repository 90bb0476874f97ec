// swift-tools-version:6.0
// ParallelKit's benchmark: its own package, so the library itself keeps zero dependencies.
// It uses no package but the library: plain code, Foundation, Dispatch and Synchronization.
import PackageDescription

let package = Package(
    name: "ParallelKitBenchmarks",
    dependencies: [
        // Named, so the product reference below does not depend on the checkout's folder name
        // (a path dependency's identity is otherwise its folder's last path component).
        .package(name: "ParallelKit", path: "..")
    ],
    targets: [
        .executableTarget(
            name: "ParallelBenchmarks",
            dependencies: [.product(name: "ParallelKit", package: "ParallelKit")],
            path: "Sources/ParallelBenchmarks",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // Row C: the cluster backends' TCP transport at 50 and 200 workers on this machine
        // (`swift run -c release --scratch-path .build-bench ClusterScale`; README "Row C").
        .executableTarget(
            name: "ClusterScale",
            dependencies: [.product(name: "ParallelKit", package: "ParallelKit")],
            path: "Sources/ClusterScale",
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
