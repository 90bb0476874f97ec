import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// A result whose encoding fails for one value: it can be computed but not sent back.
struct PickyResult: Codable, Sendable, Equatable {
    struct Refused: Error {}
    var value: Int
    var refuse: Bool

    func encode(to encoder: any Encoder) throws {
        if refuse { throw Refused() }
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }

    init(value: Int, refuse: Bool) {
        self.value = value
        self.refuse = refuse
    }

    init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(Int.self)
        refuse = false
    }
}

/// Returns a result that cannot be encoded at `refuseAt`, and throws at `throwAt`.
struct PickyJob: ParallelJob {
    struct Thrown: Error, Codable, Equatable { var index: Int }
    var index: Int
    var refuseAt: Int
    var throwAt: Int?

    func run() async throws -> PickyResult {
        if index == throwAt { throw Thrown(index: index) }
        return PickyResult(value: index, refuse: index == refuseAt)
    }
}

/// A worker that cannot encode a task's result blames that task, not the first of its batch: all
/// the tasks of the batch ran, and the results before the unencodable one are kept.
@Suite("Result encoding failures in a worker")
struct ResultEncodingTests {
    /// Task 5 is not the first of its batch (the engine's first batches hold 4 tasks here).
    @Test func blamesTheTaskWhoseResultCannotBeEncoded() async throws {
        let jobs = (0..<64).map { PickyJob(index: $0, refuseAt: 5, throwAt: nil) }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend), batchSize: 8)(jobs)
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.taskIndex == 5, "\(error)")
            #expect(error.description.contains("task 5"), "\(error)")
            #expect(error.description.contains("could not be encoded"), "\(error)")
        }
    }

    /// An unencodable result before a task that throws comes first in submission order.
    @Test func anUnencodableResultBeforeAThrowingTaskIsBlamedFirst() async throws {
        // Tasks 5 and 6 share a batch (the engine's first batches hold 4 tasks here).
        let jobs = (0..<64).map { PickyJob(index: $0, refuseAt: 5, throwAt: 6) }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend), batchSize: 8)(jobs)
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.taskIndex == 5, "\(error)")
        }
    }

    /// When every result encodes, a task's own error still comes back as itself.
    @Test func aThrowingTaskAfterEncodableResultsKeepsItsError() async throws {
        let jobs = (0..<64).map { PickyJob(index: $0, refuseAt: -1, throwAt: 6) }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend), batchSize: 8)(jobs)
            Issue.record("the call should throw")
        } catch let error as PickyJob.Thrown {
            #expect(error == PickyJob.Thrown(index: 6))
        }
    }

    @Test func encodablePrefixFindsTheFirstFailure() throws {
        let outputs = (0..<6).map { PickyResult(value: $0, refuse: $0 == 4) }
        let prefix = BatchExecutor.encodablePrefix(outputs)
        #expect(prefix.count == 4)
        #expect(prefix.failure is PickyResult.Refused)
        let decoded = try BinaryDecoder().decode([PickyResult].self, from: prefix.encoded)
        #expect(decoded.map(\.value) == [0, 1, 2, 3])
        let clean = BatchExecutor.encodablePrefix([PickyResult(value: 1, refuse: false)])
        #expect(clean.count == 1 && clean.failure == nil)
    }
}
