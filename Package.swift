// swift-tools-version:6.0
// ParallelKit: joblib's `Parallel` for Swift. No package dependencies: the toolchain only.
//
// Platforms: Linux only (Swift 6 toolchains). SwiftPM's `platforms:` setting can only name Apple systems, so
// the supported one is stated here and in the README ("Platforms"); the Linux-only calls are
// behind Sources/ParallelCore/Platform and the two C targets.
import PackageDescription

/// Settings every Swift target shares: Swift 6 mode with complete strict concurrency (the default
/// in 6.0 mode) and `any` spelled out for existentials.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "ParallelKit",
    products: [
        .library(name: "ParallelKit", targets: ["ParallelKit"]),
        .library(name: "ParallelCore", targets: ["ParallelCore"]),
    ],
    targets: [
        // C shims for what Glibc does not export (pipe2, memfd_create, pidfd_open, prctl, affinity,
        // thread names).
        .target(name: "CParallelSupport", path: "Sources/CParallelSupport"),
        // The constructor that turns a re-executed binary into a process worker. Only
        // ParallelProcess links it, so a binary that uses ParallelCore alone (a third-party
        // backend's) carries no worker start-up code.
        .target(name: "CParallelWorkerHook", path: "Sources/CParallelWorkerHook"),

        // The backend protocol, registry, tasks, errors, options and the shared dispatch engine.
        .target(
            name: "ParallelCore",
            dependencies: ["CParallelSupport"],
            path: "Sources/ParallelCore",
            swiftSettings: strictSettings
        ),
        // `withParallelConfig`, `ParallelConfig` and the resolution of nJobs/backend/prefer/require.
        .target(
            name: "ParallelConfiguration",
            dependencies: ["ParallelCore"],
            path: "Sources/Config",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ParallelSequential",
            dependencies: ["ParallelCore"],
            path: "Sources/Backends/Sequential",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ParallelThreading",
            dependencies: ["ParallelCore", "CParallelSupport"],
            path: "Sources/Backends/Threading",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ParallelProcess",
            dependencies: ["ParallelCore", "CParallelSupport", "CParallelWorkerHook"],
            path: "Sources/Backends/Process",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        // joblib's `Memory`: results cached on disk, keyed with the process codec's canonical mode.
        .target(
            name: "ParallelMemory",
            dependencies: ["ParallelCore", "ParallelProcess"],
            path: "Sources/Memory",
            swiftSettings: strictSettings
        ),
        // "slurm" and "ssh": the process backends' workers on other machines, connecting back over
        // TCP with a challenge-response on a per-pool secret (Sources/Backends/Cluster/README.md).
        .target(
            name: "ParallelCluster",
            dependencies: ["ParallelCore", "ParallelProcess", "CParallelSupport", "CParallelWorkerHook"],
            path: "Sources/Backends/Cluster",
            exclude: ["README.md"],
            swiftSettings: strictSettings
        ),
        // The umbrella users import: `Parallel`, re-exports, built-in backend registration.
        .target(
            name: "ParallelKit",
            dependencies: [
                "ParallelCore", "ParallelConfiguration", "ParallelSequential",
                "ParallelThreading", "ParallelProcess", "ParallelMemory", "ParallelCluster",
            ],
            path: "Sources/ParallelKit",
            swiftSettings: strictSettings
        ),

        // Test support shared by the test targets: `.offCooperativePool` for tests that hold a thread.
        .target(
            name: "ParallelTestSupport", dependencies: ["ParallelCore"], path: "Tests/ParallelTestSupport",
            swiftSettings: strictSettings),
        .testTarget(name: "ParallelCoreTests", dependencies: ["ParallelCore"], swiftSettings: strictSettings),
        .testTarget(name: "ParallelConfigurationTests", dependencies: ["ParallelKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "ParallelThreadingTests", dependencies: ["ParallelKit", "ParallelThreading", "ParallelTestSupport"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "ParallelProcessTests", dependencies: ["ParallelKit", "ParallelProcess", "ParallelTestSupport"],
            swiftSettings: strictSettings),
        .testTarget(name: "ParallelKitTests", dependencies: ["ParallelKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "ParallelMemoryTests", dependencies: ["ParallelKit", "ParallelMemory"], swiftSettings: strictSettings),
        .testTarget(name: "ParallelRandomTests", dependencies: ["ParallelKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "ParallelClusterTests", dependencies: ["ParallelKit", "ParallelCluster", "ParallelTestSupport"],
            swiftSettings: strictSettings),

        // Examples/: the seed's joblib examples (`swift run parallel-demo`) and a third-party-style
        // backend that imports ParallelCore alone, with its demo and its test.
        .executableTarget(
            name: "parallel-demo",
            dependencies: ["ParallelKit"],
            path: "Examples/ParallelDemo",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ConcurrentPerformBackend",
            dependencies: ["ParallelCore"],
            path: "Examples/ConcurrentPerformBackend",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "concurrent-perform-demo",
            dependencies: ["ConcurrentPerformBackend", "ParallelKit"],
            path: "Examples/ConcurrentPerformDemo",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ConcurrentPerformBackendTests",
            dependencies: ["ConcurrentPerformBackend", "ParallelKit"],
            swiftSettings: strictSettings
        ),
        // The process backends' examples (`swift run process-examples`) and their C library that is
        // not thread-safe.
        .target(name: "ProcessExamplesLegacyC", path: "Examples/ProcessExamplesLegacyC"),
        // joblib's gallery pages that have no other home (see the README's Examples table).
        .executableTarget(
            name: "memory-checkpoint", dependencies: ["ParallelKit"], path: "Examples/MemoryCheckpoint",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "random-state", dependencies: ["ParallelKit"], path: "Examples/RandomState",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "generator-streaming", dependencies: ["ParallelKit"], path: "Examples/GeneratorStreaming",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "nested-parallelism", dependencies: ["ParallelKit"], path: "Examples/NestedParallelism",
            swiftSettings: strictSettings),
        // What `progress: .bar` draws (simulated calls driving the progress channel).
        .executableTarget(
            name: "progress-bar-demo", dependencies: ["ParallelCore"], path: "Examples/ProgressBarDemo",
            swiftSettings: strictSettings),
        .executableTarget(
            name: "process-examples",
            dependencies: ["ParallelKit", "ProcessExamplesLegacyC"],
            path: "Examples/ProcessExamples",
            swiftSettings: strictSettings
        ),
    ]
)
