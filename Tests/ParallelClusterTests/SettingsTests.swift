import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

@Suite("Cluster backends: settings and registration")
struct SettingsTests {
    @Test func slurmSettingsComeFromTheEnvironment() throws {
        let settings = try SLURMSettings.fromEnvironment([
            "PARALLELKIT_SLURM_PARTITION": "short", "PARALLELKIT_SLURM_ACCOUNT": "lab", "PARALLELKIT_SLURM_TIME_LIMIT": "90",
            "PARALLELKIT_SLURM_CPUS_PER_TASK": "4", "PARALLELKIT_SLURM_MEM_PER_CPU": "2G",
            "PARALLELKIT_SLURM_EXTRA_ARGS": "--qos=debug --exclusive", "PARALLELKIT_SLURM_START_TIMEOUT": "30",
            "PARALLELKIT_SLURM_IDLE_TIMEOUT": "5", "PARALLELKIT_SLURM_SHARED_DIR": "/shared/me", "HOME": "/home/me",
        ])
        #expect(settings.partition == "short")
        #expect(settings.account == "lab")
        #expect(settings.timeLimitText == "1:30:00")
        #expect(settings.cpusPerTask == 4)
        #expect(settings.memoryPerCPU == "2G")
        #expect(settings.extraArguments == ["--qos=debug", "--exclusive"])
        #expect(settings.startTimeout == .seconds(30))
        #expect(settings.idleTimeout == .seconds(5))
        #expect(settings.sharedDirectory == "/shared/me")
        let defaults = try SLURMSettings.fromEnvironment(["HOME": "/home/me"])
        #expect(defaults.partition == nil && defaults.timeLimit == nil && defaults.cpusPerTask == 1)
        #expect(defaults.sharedDirectory == "/home/me/.parallelkit")
        #expect(defaults.startTimeout == .seconds(120) && defaults.idleTimeout == .seconds(60))
    }

    @Test func badSlurmEnvironmentValuesNameTheVariable() {
        for (name, value) in [
            ("PARALLELKIT_SLURM_CPUS_PER_TASK", "0"), ("PARALLELKIT_SLURM_TIME_LIMIT", "soon"),
            ("PARALLELKIT_SLURM_START_TIMEOUT", "-1"), ("PARALLELKIT_SLURM_IDLE_TIMEOUT", "x"),
        ] {
            do {
                _ = try SLURMSettings.fromEnvironment([name: value])
                Issue.record("\(name)=\(value) should be refused")
            } catch let error as ParallelError {
                #expect(error.code == .invalidArgument)
                #expect(error.description.contains(name), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func sshByNameWithoutHostsSaysWhatToSet() async {
        guard ProcessInfo.processInfo.environment["PARALLELKIT_SSH_HOSTS"] == nil else { return }
        do {
            _ = try await Parallel(nJobs: 2, backend: "ssh")((0..<4).map { ClusterJob(index: $0) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("PARALLELKIT_SSH_HOSTS"), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func sharedArraysCannotBeWrittenFromAnotherMachine() async {
        for mode in [MmapMode.rPlus, .wPlus] {
            do {
                _ = try await Parallel(nJobs: 2, backend: .instance(SSHBackend(hosts: ["localhost"])), mmapMode: mode)(
                    (0..<4).map { ClusterJob(index: $0) })
                Issue.record("mmapMode \(mode) should be refused")
            } catch let error as ParallelError {
                #expect(error.code == .invalidArgument)
                #expect(error.description.contains("cannot map"), "\(error)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }
}
