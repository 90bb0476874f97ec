import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// A `ProcessBackend` keeps one pool per worker environment only while that environment is in
/// use: calls with other thread limits (`innerMaxNumThreads`) must not leave pools and idle
/// workers behind, one per distinct limit.
@Suite("Process backend: pools of other thread limits are retired")
struct PoolRetirementTests {
    @Test func aCallWithOtherLimitsRetiresTheOldPool() async throws {
        let backend = ProcessBackend()
        var previousPIDs: Set<Int32> = []
        for limit in 1...4 {
            let pids = try await withParallelConfig(innerMaxNumThreads: limit) {
                try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<6).map { PidJob(tag: $0) })
            }
            #expect(backend.poolCount == 1, "pools after the call with limit \(limit): \(backend.poolCount)")
            // The previous limit's workers end: no call uses them any more.
            let stale = previousPIDs
            #expect(
                await eventually(within: .seconds(20)) { stale.allSatisfy(ProcResources.hasEnded) },
                "workers of the previous limit still alive: \(stale.filter { !ProcResources.hasEnded($0) })")
            previousPIDs = Set(pids)
        }
        // One pool of nJobs 2: never more than 2 workers alive.
        #expect(await backend.liveWorkerPIDs().count <= 2)
    }

    /// A pool dropped while a call still runs on it keeps serving that call to the end.
    @Test func aRetiredPoolFinishesTheCallsRunningOnIt() async throws {
        let backend = ProcessBackend()
        async let slow = withParallelConfig(innerMaxNumThreads: 1) {
            try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<20).map { SquareJob(x: $0) })
        }
        let other = try await withParallelConfig(innerMaxNumThreads: 2) {
            try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<20).map { SquareJob(x: $0) })
        }
        #expect(other == (0..<20).map { $0 * $0 })
        #expect(try await slow == (0..<20).map { $0 * $0 })
        #expect(backend.poolCount == 1)
    }
}
