import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

@Suite(
    "SSH backend against a real sshd", .enabled(if: ClusterEnvironment.runSSH, ClusterEnvironment.sshSkipReason),
    .serialized)
struct SSHBackendTests {
    @Test func jobsRunOverSSHInOrder() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(hosts: ["localhost:2"])
        let reports = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
            (0..<20).map { WhereJob(index: $0) })
        #expect(reports.map(\.index) == Array(0..<20))
        #expect(reports.allSatisfy { $0.sshConnection != nil }, "every job ran in a process started by sshd")
        #expect(!reports.contains { $0.pid == getpid() })
        // The pool is reused by the next call.
        let again = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<50).map { ClusterJob(index: $0) })
        #expect(again == (0..<50).map { $0 * $0 })
    }

    @Test("F4: a call starts no more remote workers than it has tasks to run at once")
    func workersStartOnlyForTasks() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(hosts: ["localhost:8"])
        let reports = try await Parallel(nJobs: 8, backend: .instance(backend), batchSize: 1)(
            (0..<2).map { WhereJob(index: $0) })
        #expect(reports.map(\.index) == [0, 1])
        let launchers = await backend.liveLauncherPIDs()
        #expect(
            !launchers.isEmpty && launchers.count <= 2,
            "ssh workers started for 2 tasks with nJobs 8: \(launchers.count)")
    }

    @Test func innerMaxNumThreadsReachesTheWorkersAndIsFixedForTheirLife() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(hosts: ["localhost:2"])
        let reports = try await withParallelConfig(innerMaxNumThreads: 3) {
            try await Parallel(nJobs: 2, backend: .instance(backend))((0..<6).map { WhereJob(index: $0) })
        }
        #expect(reports.allSatisfy { $0.ompNumThreads == "3" }, "\(reports.map(\.ompNumThreads))")
        do {
            _ = try await withParallelConfig(innerMaxNumThreads: 1) {
                try await Parallel(nJobs: 2, backend: .instance(backend))((0..<6).map { WhereJob(index: $0) })
            }
            Issue.record("another limit on the same workers should be refused")
        } catch let error as ParallelError {
            #expect(error.code == .invalidArgument)
            #expect(error.description.contains("OMP_NUM_THREADS=3"), "\(error)")
        }
    }

    @Test func errorsComeBackAsThemselves() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(hosts: ["localhost:2"])
        await #expect(throws: ClusterTestError(index: 13)) {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))(
                (0..<40).map { ClusterJob(index: $0, failAt: 13) })
        }
    }

    @Test func aCrashNamesItsTaskAndTheWorkerIsReplaced() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(hosts: ["localhost:2"])
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 4)(
                (0..<20).map { ClusterJob(index: $0, crashAt: 9) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.taskIndex == 9)
            #expect(error.description.contains("task 9"), "\(error)")
            #expect(error.description.contains("ClusterJob 9 crashed on purpose"), "\(error)")
            #expect(error.description.contains("ssh localhost"), "\(error)")
        }
        let squares = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<10).map { ClusterJob(index: $0) })
        #expect(squares == (0..<10).map { $0 * $0 })
    }

    @Test func anUnresolvableHostIsAClearErrorAtOnce() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        let backend = SSHBackend(
            hosts: ["no-such-host.invalid"], workerExecutable: nil, startTimeout: .seconds(20),
            idleTimeout: .seconds(60))
        let start = ContinuousClock.now
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { ClusterJob(index: $0) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("ssh no-such-host.invalid"), "\(error)")
            #expect(error.description.contains("Could not resolve hostname"), "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    @Test func aWorkerThatNeverConnectsFailsWithinTheStartTimeout() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        // ssh logs in and runs a program that never connects back: the start-up timeout ends it.
        let script = temporaryPath("never-connects.sh")
        try "#!/bin/sh\nexec sleep 12\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o700)
        defer { unlink(script) }
        let backend = SSHBackend(
            hosts: ["localhost"], workerExecutable: script, startTimeout: .seconds(3), idleTimeout: .seconds(60))
        let start = ContinuousClock.now
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { ClusterJob(index: $0) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("did not connect back to 127.0.0.1:"), "\(error)")
            #expect(error.description.contains("within 3"), "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(3 + 10))
    }

    @Test func anUnreachableAddressFailsWithinTheStartTimeout() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        // TEST-NET-1 (RFC 5737): nothing answers there.
        let backend = SSHBackend(
            hosts: ["192.0.2.213"], workerExecutable: nil, startTimeout: .seconds(3), idleTimeout: .seconds(60))
        let start = ContinuousClock.now
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { ClusterJob(index: $0) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("192.0.2.213"), "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(3 + 10))
    }

    @Test func invalidHostsAreRefusedBeforeAnythingStarts() async throws {
        for hosts in [[], ["a:0"], ["-oProxyCommand=x"], ["a b"], ["a:2:3"]] {
            await #expect(throws: ParallelError.self, "\(hosts)") {
                _ = try await Parallel(nJobs: 2, backend: .instance(SSHBackend(hosts: hosts)))(
                    (0..<4).map { ClusterJob(index: $0) })
            }
        }
    }
}

@Suite(
    "SSH backend: nothing outlives a released backend",
    .enabled(if: ClusterEnvironment.runSSH, ClusterEnvironment.sshSkipReason))
struct SSHBackendResourceTests {
    @Test func releasingTheBackendEndsItsWorkersAndClosesItsPort() async throws {
        guard await ClusterEnvironment.expectSSH() else { return }
        var backend: SSHBackend? = SSHBackend(hosts: ["localhost:2"])
        let reports = try await Parallel(nJobs: 2, backend: .instance(backend!), batchSize: 1)(
            (0..<8).map { WhereJob(index: $0) })
        let workers = Set(reports.map(\.pid))
        let launchers = await backend!.liveLauncherPIDs()
        let port = try #require(backend!.listener?.port)
        #expect(!launchers.isEmpty)
        backend = nil
        func ended(_ pid: Int32) -> Bool {
            // Gone, or a zombie (a worker is sshd's child, not ours).
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return true }
            return status.contains("State:\tZ")
        }
        #expect(
            await eventually { workers.allSatisfy(ended) && launchers.allSatisfy(ended) },
            "still alive: \(workers.union(launchers).filter { !ended($0) })")
        #expect(throws: ClusterFailure.self, "the listener is closed") {
            _ = try BlockingSocket.connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
        }
    }
}
