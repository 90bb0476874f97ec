import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

@Suite(
    "SLURM backend against a real one-node cluster",
    .enabled(if: ClusterEnvironment.runSLURM, ClusterEnvironment.slurmSkipReason), .serialized)
struct SLURMBackendTests {
    @Test func jobsRunInsideSLURMJobsInOrder() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60))
        let reports = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
            (0..<20).map { WhereJob(index: $0) })
        #expect(reports.map(\.index) == Array(0..<20))
        #expect(reports.allSatisfy { $0.slurmJobID != nil }, "every job ran inside a SLURM job")
        // One SLURM job per worker process.
        let jobsByPID = Dictionary(grouping: reports, by: \.pid).mapValues { Set($0.compactMap(\.slurmJobID)) }
        #expect(jobsByPID.values.allSatisfy { $0.count == 1 })
        #expect(Set(jobsByPID.values.flatMap { $0 }).count == jobsByPID.count)
        #expect(!reports.contains { $0.pid == getpid() })
        // A worker's native thread pools get its job's CPUs.
        #expect(reports.allSatisfy { $0.ompNumThreads == "1" }, "\(reports.map(\.ompNumThreads))")
    }

    @Test("F4: a call starts no more SLURM workers than it has tasks to run at once")
    func workersStartOnlyForTasks() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60))
        let reports = try await Parallel(nJobs: 6, backend: .instance(backend), batchSize: 1)(
            (0..<2).map { WhereJob(index: $0) })
        #expect(reports.map(\.index) == [0, 1])
        let launchers = await backend.liveLauncherPIDs()
        #expect(
            !launchers.isEmpty && launchers.count <= 2,
            "srun workers started for 2 tasks with nJobs 6: \(launchers.count)")
    }

    @Test func errorsComeBackAsThemselvesAndACrashNamesItsTask() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60))
        await #expect(throws: ClusterTestError(index: 21)) {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))(
                (0..<40).map { ClusterJob(index: $0, failAt: 21) })
        }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 4)(
                (0..<20).map { ClusterJob(index: $0, crashAt: 6) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.taskIndex == 6)
            #expect(error.description.contains("task 6"), "\(error)")
            #expect(error.description.contains("ClusterJob 6 crashed on purpose"), "\(error)")
            #expect(error.description.contains("SLURM job \(backend.jobNamePrefix)"), "\(error)")
        }
        let squares = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<10).map { ClusterJob(index: $0) })
        #expect(squares == (0..<10).map { $0 * $0 })
    }

    @Test func resultsModeKeepsGoingPastAnErrorAndACrash() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60))
        let fates = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 2)
            .results((0..<16).map { ClusterJob(index: $0, failAt: 3, crashAt: 10) })
        #expect(fates.count == 16)
        for (index, fate) in fates.enumerated() {
            switch (index, fate) {
            case (3, .failure(let failure)):
                #expect(failure.error as? ClusterTestError == ClusterTestError(index: 3))
            case (10, .failure(let failure)):
                #expect((failure.error as? ParallelError)?.code == .workerCrashed, "\(failure)")
                #expect(failure.taskIndex == 10)
            case (_, .success(let value)):
                #expect(value == index * index)
            case (_, .failure(let failure)):
                Issue.record("task \(index) failed: \(failure)")
            }
        }
    }

    @Test func scancelOfAWorkersJobIsAWorkerCrashAndTheNextCallSucceeds() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60))
        let marker = temporaryPath("scancel-marker")
        defer { unlink(marker) }
        let jobs = (0..<6).map { MarkedSleepJob(index: $0, markAt: 3, marker: marker, seconds: 60) }
        let call = Task { try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs) }
        // Task 3 writes its SLURM job id, then sleeps: cancel that job from outside.
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
        let jobID = try String(contentsOfFile: marker, encoding: .utf8).split(separator: " ")[0]
        #expect(await Command.runOffPool(["scancel", String(jobID)]).status == 0)
        do {
            _ = try await call.value
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.taskIndex == 3)
            #expect(error.description.contains("task 3"), "\(error)")
            #expect(error.description.contains("CANCELLED"), "SLURM's reason: \(error)")
        }
        // Retried by hand (RetryPolicy belongs to the engine): a new worker job serves it.
        let results = try await Parallel(nJobs: 2, backend: .instance(backend))(
            (0..<6).map { MarkedSleepJob(index: $0, markAt: -1, marker: marker, seconds: 0) })
        #expect(results == Array(0..<6))
    }

    @Test func aScancelledTaskIsRetriedOnAFreshWorkerUnderARetryPolicy() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60))
        let marker = temporaryPath("retry-marker")
        defer { unlink(marker) }
        let jobs = (0..<6).map { MarkedSleepJob(index: $0, markAt: 2, marker: marker, seconds: 60) }
        let call = Task {
            try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1, retry: .attempts(2))(jobs)
        }
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
        let jobID = try String(contentsOfFile: marker, encoding: .utf8).split(separator: " ")[0]
        #expect(await Command.runOffPool(["scancel", String(jobID)]).status == 0)
        #expect(try await call.value == Array(0..<6))
    }

    @Test func workersDoNotOutliveAParentThatWasKilled() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let prefixFile = temporaryPath("orphan-prefix")
        defer { unlink(prefixFile) }
        await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))([
                SLURMOrphanMakerJob(prefixFile: prefixFile)
            ])
        }
        let prefix = try String(contentsOfFile: prefixFile, encoding: .utf8)
        #expect(prefix.hasPrefix("pk-"))
        // The workers see their connection close, exit, and their jobs end: no allocation is held.
        let leftBehind = await eventually(timeout: .seconds(30)) {
            await ClusterEnvironment.queuedJobs(prefix: prefix).isEmpty
        }
        let queue = await ClusterEnvironment.queuedJobs(prefix: prefix)
        #expect(leftBehind, "still queued: \(queue)")
    }

    /// Taking the node down kills every job on it, also those of other test processes sharing the
    /// cluster (several sessions on one machine): it runs where the cluster tests are required (CI,
    /// one test process), not on every local run.
    @Test(.enabled(if: ClusterEnvironment.required, "takes the node down; runs with PARALLELKIT_CLUSTER_TESTS=1"))
    func aLostNodeIsAWorkerCrashQuotingSLURM() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        // Taking a node down is only done to the cluster Scripts/cluster-up.sh made.
        guard ClusterEnvironment.slurmIsOurs else { return }
        let node = ProcessInfo.processInfo.hostName.split(separator: ".")[0]
        let backend = SLURMBackend(startTimeout: .seconds(60))
        let marker = temporaryPath("node-marker")
        defer { unlink(marker) }
        let jobs = (0..<6).map { MarkedSleepJob(index: $0, markAt: 4, marker: marker, seconds: 60) }
        let call = Task { try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs) }
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
        #expect(
            await Command.runOffPool([
                "scontrol", "update", "nodename=\(node)", "state=down", "reason=parallelkit-test",
            ]).status == 0)
        defer {
            // A defer cannot await; this scontrol answers in milliseconds.
            _ = Command.run(["scontrol", "update", "nodename=\(node)", "state=resume"])
        }
        do {
            _ = try await call.value
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(
                error.description.contains("NODE FAILURE") || error.description.contains("Node failure"), "\(error)")
        }
        _ = await Command.runOffPool(["scontrol", "update", "nodename=\(node)", "state=resume"])
        #expect(
            await eventually(timeout: .seconds(30)) {
                let state = await Command.runOffPool(["sinfo", "--noheader", "--format=%T"]).output
                return state.hasPrefix("idle") || state.hasPrefix("mixed")
            }, "the node came back")
    }

    /// SLURM's time limits are whole minutes and its check runs about every 30 s, so this test
    /// takes 60–100 s: it runs where the cluster tests are required (CI), not on every local run.
    @Test(.enabled(if: ClusterEnvironment.required, "takes over a minute; runs with PARALLELKIT_CLUSTER_TESTS=1"))
    func aJobAtItsTimeLimitIsAWorkerCrashQuotingSLURM() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(timeLimit: .seconds(60), startTimeout: .seconds(60))
        let marker = temporaryPath("time-limit-marker")
        defer { unlink(marker) }
        let jobs = (0..<4).map { MarkedSleepJob(index: $0, markAt: 1, marker: marker, seconds: 300) }
        let start = ContinuousClock.now
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs)
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.taskIndex == 1)
            #expect(error.description.contains("DUE TO TIME LIMIT"), "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(200))
    }

    @Test func cancellationAndIdleTimeoutLeaveNoJobInTheQueue() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(startTimeout: .seconds(60), idleTimeout: .seconds(2))
        let prefix = backend.jobNamePrefix
        // A normal end: after the idle timeout the workers' jobs are gone.
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<10).map { ClusterJob(index: $0) })
        let stayed = await ClusterEnvironment.queuedJobs(prefix: prefix)
        #expect(!stayed.isEmpty, "workers stay for the next call")
        let idledOut = await eventually { await ClusterEnvironment.queuedJobs(prefix: prefix).isEmpty }
        let queue = await ClusterEnvironment.queuedJobs(prefix: prefix)
        #expect(idledOut, "still queued: \(queue)")

        // Cancellation while both workers run long tasks: their jobs end at once.
        let marker = temporaryPath("cancel-marker")
        defer { unlink(marker) }
        let jobs = (0..<4).map { MarkedSleepJob(index: $0, markAt: $0 < 2 ? $0 : -1, marker: marker, seconds: 120) }
        let call = Task { try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs) }
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
        let running = await ClusterEnvironment.queuedJobs(prefix: prefix)
        #expect(!running.isEmpty)
        call.cancel()
        await #expect(throws: CancellationError.self) { _ = try await call.value }
        let cancelled = await eventually { await ClusterEnvironment.queuedJobs(prefix: prefix).isEmpty }
        let queueAfterCancel = await ClusterEnvironment.queuedJobs(prefix: prefix)
        #expect(cancelled, "still queued: \(queueAfterCancel)")
    }

    @Test func anImpossiblePartitionIsAClearErrorAtOnce() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let backend = SLURMBackend(partition: "no-such-partition", startTimeout: .seconds(30))
        let start = ContinuousClock.now
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { ClusterJob(index: $0) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("SLURMBackend"), "\(error)")
            #expect(error.description.contains("Invalid partition name"), "srun's own message: \(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test func aJobPendingPastTheStartTimeoutIsAClearErrorAndIsCancelled() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        // --begin holds the job in the queue (reason BeginTime) far past the start-up timeout.
        let backend = SLURMBackend(extraArguments: ["--begin=now+1hour"], startTimeout: .seconds(4))
        let start = ContinuousClock.now
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { ClusterJob(index: $0) })
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("still pending"), "\(error)")
            #expect(error.description.contains("BeginTime"), "squeue's reason: \(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(4 + 10))
        #expect(await eventually { await ClusterEnvironment.queuedJobs(prefix: backend.jobNamePrefix).isEmpty })
    }

    @Test func invalidSettingsAreRefusedBeforeAnythingIsSubmitted() async throws {
        for backend in [
            SLURMBackend(cpusPerTask: 0), SLURMBackend(partition: "a b"), SLURMBackend(timeLimit: .seconds(-1)),
        ] {
            await #expect(throws: ParallelError.self) {
                _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { ClusterJob(index: $0) })
            }
            #expect(await ClusterEnvironment.queuedJobs(prefix: backend.jobNamePrefix).isEmpty)
        }
    }

    @Test func slurmIsRegisteredByName() async throws {
        guard await ClusterEnvironment.expectSLURM() else { return }
        let reports = try await Parallel(nJobs: 2, backend: "slurm")((0..<8).map { WhereJob(index: $0) })
        #expect(reports.map(\.index) == Array(0..<8))
        #expect(reports.allSatisfy { $0.slurmJobID != nil })
    }
}
