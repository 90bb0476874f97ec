import Foundation
import ParallelProcess

// One `srun` per worker, each its own one-task job (`--ntasks=1`). Why srun per worker rather
// than one sbatch of nJobs steps or a job array:
// * each worker is scheduled, time-limited, preempted and cancelled on its own, so a lost worker
//   costs one task and is replaced by submitting one job, while the others keep running;
// * the local srun lives exactly as long as the remote task: its exit is the worker's death,
//   noticed at once through its pidfd (no polling of squeue), its exit status is the task's, and
//   its stderr carries SLURM's own reason ("*** STEP 12.0 ON n3 CANCELLED AT … ***",
//   "DUE TO TIME LIMIT", "Node failure"), which goes into the `.workerCrashed` message;
// * when the parent dies, the worker sees end of file on its connection and exits, which ends
//   the step and the job.
// The price is one srun process per worker on the submitting host (measured in the README);
// job arrays would remove it at 1,000+ workers.

/// Starts workers as one-task SLURM jobs with srun.
final class SrunLauncher: RemoteWorkerLauncher {
    let settings: SLURMSettings
    let listenAddress: (host: String, port: UInt16, text: String)
    let secretFile: String
    let environment: [String]
    /// Every job name of this pool starts with it (`pk-<pid>-<pool>-`), so the end of the program
    /// can find them all in one squeue.
    let jobPrefix: String

    init(settings: SLURMSettings, listener: PoolListener, secretFile: String, environment: [String], jobPrefix: String)
    {
        self.settings = settings
        self.listenAddress = (listener.host, listener.port, listener.address)
        self.secretFile = secretFile
        self.environment = environment
        self.jobPrefix = jobPrefix
    }

    func launch(token: UInt64) throws -> SpawnedProcess {
        let jobName = "\(jobPrefix)\(token)"
        let request = ConnectRequest(
            host: listenAddress.host, port: listenAddress.port, token: token, secret: .file(secretFile))
        var arguments = [
            "srun", "--quiet", "--job-name=\(jobName)", "--nodes=1", "--ntasks=1",
            "--cpus-per-task=\(settings.cpusPerTask)", "--kill-on-bad-exit=1",
        ]
        if let partition = settings.partition { arguments.append("--partition=\(partition)") }
        if let account = settings.account { arguments.append("--account=\(account)") }
        if let limit = settings.timeLimitText { arguments.append("--time=\(limit)") }
        if let memory = settings.memoryPerCPU { arguments.append("--mem-per-cpu=\(memory)") }
        arguments += settings.extraArguments
        arguments.append(settings.workerExecutable ?? SettingParser.thisExecutable())
        let launched = try LauncherProcess.start(
            arguments: arguments, environment: environment + ["PARALLELKIT_CONNECT=\(request.value)"], input: nil)
        let address = listenAddress.text
        let timeout = settings.startTimeout
        let remote = RemoteWorker(
            token: token, name: "the worker of SLURM job \(jobName) (srun pid \(launched.pid))",
            startTimeout: settings.startTimeout,
            describeStartTimeout: {
                SLURMQueue.describeStartTimeout(jobName: jobName, address: address, timeout: timeout)
            },
            ended: { killed in if killed { SLURMQueue.cancel(jobName: jobName) } })
        return SpawnedProcess(
            launcherPID: launched.pid, pidFD: launched.pidFD, stderrFD: launched.stderrFD, remote: remote)
    }
}
