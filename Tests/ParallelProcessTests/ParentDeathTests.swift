import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// How the middle process of `ParentDeathTests` ends.
enum ParentEnding: String, Codable, Sendable, CaseIterable {
    case exitNormally, uncaughtError, sigint, sigterm, sigkill
}

/// Runs in a worker (the "parent" of the test): starts a process pool of its own (the
/// "grandchildren"), writes their pids to `pidFile`, then ends as told.
struct OrphanMakerJob: ParallelJob {
    var pidFile: String
    var ending: ParentEnding

    func run() async throws -> Int {
        let pool = ProcessBackend()
        let pids = try await Parallel(nJobs: 2, backend: .instance(pool), batchSize: 1)((0..<8).map { PidJob(tag: $0) })
        let unique = Array(Set(pids)).map(String.init).joined(separator: " ")
        try unique.write(toFile: pidFile, atomically: true, encoding: .utf8)
        switch ending {
        case .exitNormally: exit(0)
        case .uncaughtError: fatalError("an error nobody caught")
        case .sigint: kill(getpid(), SIGINT)
        case .sigterm: kill(getpid(), SIGTERM)
        case .sigkill: kill(getpid(), SIGKILL)
        }
        // Signals are delivered before kill returns when sent to oneself; this is not reached.
        return 0
    }
}

@Suite("Parent death", .serialized)
struct ParentDeathTests {
    @Test(arguments: ParentEnding.allCases)
    func workersDoNotOutliveTheirParent(_ ending: ParentEnding) async throws {
        let pidFile = NSTemporaryDirectory() + "parallelkit-orphans-\(getpid())-\(ending.rawValue)"
        defer { unlink(pidFile) }
        let backend = MultiprocessingBackend()
        await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend))(
                [OrphanMakerJob(pidFile: pidFile, ending: ending)])
        }
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let grandchildren = text.split(separator: " ").compactMap { Int32($0) }
        #expect(!grandchildren.isEmpty)
        // The kernel's parent-death signal ends them at once, and end of file on their request
        // pipe too; the bound only has to be generous enough for a busy 2-core machine (how fast
        // they end is a timing question, not this test's).
        let allEnded = await eventually(within: .seconds(20)) { grandchildren.allSatisfy(ProcResources.hasEnded) }
        #expect(allEnded, "still alive: \(grandchildren.filter { !ProcResources.hasEnded($0) })")
    }
}
