import ParallelCluster
import ParallelCore

/// The cluster backends' registry entry: `"slurm"` names one shared ``SLURMBackend`` whose
/// settings come from `PARALLELKIT_SLURM_*` environment variables, created on first use (so a
/// program that never names it submits nothing and reads nothing).
enum ClusterBackendRegistration {
    static let builtins: [(String, ParallelBackendFactory)] = {
        [("slurm", { @Sendable in SharedSLURM.backend })]
    }()

    private enum SharedSLURM {
        static let backend = SLURMBackend.fromEnvironment()
    }
}
