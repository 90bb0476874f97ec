import ParallelCluster
import ParallelCore

/// The cluster backends' registry entries: `"slurm"` names one shared ``SLURMBackend`` whose
/// settings come from `PARALLELKIT_SLURM_*` environment variables, and `"ssh"` one shared
/// ``SSHBackend`` on the hosts of `PARALLELKIT_SSH_HOSTS`, each created on first use (so a
/// program that never names them submits nothing and reads nothing).
enum ClusterBackendRegistration {
    static let builtins: [(String, ParallelBackendFactory)] = {
        [("slurm", { @Sendable in SharedSLURM.backend }), ("ssh", { @Sendable in SharedSSH.backend })]
    }()

    private enum SharedSLURM {
        static let backend = SLURMBackend.fromEnvironment()
    }

    private enum SharedSSH {
        static let backend = SSHBackend.fromEnvironment()
    }
}
