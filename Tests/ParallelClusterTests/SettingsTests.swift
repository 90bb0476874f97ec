import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

@Suite("Cluster backends: settings and registration")
struct SettingsTests {
    @Test func slurmSettingsComeFromTheEnvironment() throws {
        let settings = try SLURMSettings.fromEnvironment([
            "PARALLELKIT_SLURM_PARTITION": "short", "PARALLELKIT_SLURM_ACCOUNT": "lab",
            "PARALLELKIT_SLURM_TIME_LIMIT": "90",
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

@Suite("Secret files")
struct SecretFileTests {
    @Test func aSecretFileIsPrivateAndLeftoversOfKilledProcessesAreRemoved() throws {
        let folder = temporaryPath("secrets")
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A process that has ended, and one that runs (init).
        let ended = Process()
        ended.executableURL = URL(fileURLWithPath: "/bin/true")
        try ended.run()
        ended.waitUntilExit()
        let leftover = folder + "/secret-\(SecretFile.host)-\(ended.processIdentifier)-1"
        let alive = folder + "/secret-\(SecretFile.host)-1-1"
        let otherHost = folder + "/secret-elsewhere-\(ended.processIdentifier)-1"
        for path in [leftover, alive, otherHost] {
            _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        }

        let secret = try SecureRandom.bytes(32)
        let path = try SecretFile.write(secret, in: folder, pool: 7)
        defer { unlink(path) }
        #expect(path == folder + "/secret-\(SecretFile.host)-\(getpid())-7")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == secret.hexString + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(!FileManager.default.fileExists(atPath: leftover), "a killed process's secret is removed")
        #expect(FileManager.default.fileExists(atPath: alive), "a live process's secret stays")
        #expect(FileManager.default.fileExists(atPath: otherHost), "another host's secret stays")
    }

    @Test func aFolderOthersCanReadIsRefused() throws {
        let folder = temporaryPath("open-secrets")
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: ClusterFailure.self) { try SecretFile.write(try SecureRandom.bytes(32), in: folder, pool: 1) }
    }
}
