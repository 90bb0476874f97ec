import Foundation
import ParallelCore

// The "slurm" backend's settings, from SLURMBackend's initializer or, for the registered name,
// from PARALLELKIT_SLURM_* environment variables. Checked before anything is submitted.

/// What each worker's srun asks for, and the pool's timeouts.
struct SLURMSettings: Sendable {
    var partition: String?
    var account: String?
    var timeLimit: Duration?
    var cpusPerTask: Int
    var memoryPerCPU: String?
    var extraArguments: [String]
    var workerExecutable: String?
    /// From srun to the worker's hello: queue wait included.
    var startTimeout: Duration
    /// Idle workers end (and free their allocation) after this long.
    var idleTimeout: Duration
    /// Where the pool's secret file goes: a folder every node sees.
    var sharedDirectory: String

    /// The environment variables the registered `"slurm"` reads.
    static let variables = [
        "PARALLELKIT_SLURM_PARTITION", "PARALLELKIT_SLURM_ACCOUNT", "PARALLELKIT_SLURM_TIME_LIMIT",
        "PARALLELKIT_SLURM_CPUS_PER_TASK", "PARALLELKIT_SLURM_MEM_PER_CPU", "PARALLELKIT_SLURM_EXTRA_ARGS",
        "PARALLELKIT_SLURM_WORKER_EXECUTABLE", "PARALLELKIT_SLURM_START_TIMEOUT", "PARALLELKIT_SLURM_IDLE_TIMEOUT",
        "PARALLELKIT_SLURM_SHARED_DIR",
    ]

    static func defaultSharedDirectory(_ environment: [String: String]) -> String {
        environment["PARALLELKIT_SLURM_SHARED_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.parallelkit")
    }

    /// Settings from the environment (the registered `"slurm"`).
    static func fromEnvironment(_ environment: [String: String]) throws -> SLURMSettings {
        func text(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var cpus = 1
        if let value = text("PARALLELKIT_SLURM_CPUS_PER_TASK") {
            guard let parsed = Int(value), parsed > 0 else {
                throw ParallelError(
                    .invalidArgument, "invalid PARALLELKIT_SLURM_CPUS_PER_TASK=\(value): expected a positive integer")
            }
            cpus = parsed
        }
        var limit: Duration?
        if let value = text("PARALLELKIT_SLURM_TIME_LIMIT") {
            guard let minutes = Double(value), minutes > 0 else {
                throw ParallelError(
                    .invalidArgument,
                    "invalid PARALLELKIT_SLURM_TIME_LIMIT=\(value): expected a positive number of minutes")
            }
            limit = .seconds(minutes * 60)
        }
        return SLURMSettings(
            partition: text("PARALLELKIT_SLURM_PARTITION"), account: text("PARALLELKIT_SLURM_ACCOUNT"),
            timeLimit: limit,
            cpusPerTask: cpus, memoryPerCPU: text("PARALLELKIT_SLURM_MEM_PER_CPU"),
            extraArguments: text("PARALLELKIT_SLURM_EXTRA_ARGS").map { $0.split(separator: " ").map(String.init) }
                ?? [],
            workerExecutable: text("PARALLELKIT_SLURM_WORKER_EXECUTABLE"),
            startTimeout: try SettingParser.seconds(
                "PARALLELKIT_SLURM_START_TIMEOUT", in: environment, default: .seconds(120)),
            idleTimeout: try SettingParser.seconds(
                "PARALLELKIT_SLURM_IDLE_TIMEOUT", in: environment, default: .seconds(60)),
            sharedDirectory: defaultSharedDirectory(environment))
    }

    /// Refuses values srun would misread, before anything is submitted.
    func validate() throws {
        guard cpusPerTask > 0 else {
            throw ParallelError(.invalidArgument, "invalid cpusPerTask: \(cpusPerTask). Pass 1 or more.")
        }
        if let timeLimit, timeLimit <= .zero {
            throw ParallelError(
                .invalidArgument,
                "invalid timeLimit: \(timeLimit). Pass a positive duration, or nil for the partition's default.")
        }
        for (name, value) in [("partition", partition), ("account", account), ("memoryPerCPU", memoryPerCPU)] {
            if let value, value.isEmpty || value.contains(where: \.isWhitespace) {
                throw ParallelError(
                    .invalidArgument,
                    "invalid \(name): \"\(EchoedText.shortened(value))\". Pass a SLURM name without spaces, or nil for the default."
                )
            }
        }
    }

    /// `--time` as SLURM reads it: hours:minutes:seconds, rounded up to whole seconds.
    var timeLimitText: String? {
        guard let timeLimit else { return nil }
        let (seconds, attoseconds) = timeLimit.components
        let total = seconds + (attoseconds > 0 ? 1 : 0)
        return String(format: "%d:%02d:%02d", total / 3600, (total / 60) % 60, total % 60)
    }
}
