import Foundation
import ParallelKit
import ProcessExamplesLegacyC

/// Parses one "name:value" record with the C parser, which crashes on a record without ':'.
struct ParseRecordJob: ParallelJob {
    var record: String
    func run() async throws -> Int {
        Int(legacy_parse_field(record))
    }
}

/// joblib runs tasks in worker processes so that one that crashes the interpreter cannot take the
/// program with it. Here a C function segfaults on bad input: in a worker process that is a
/// `ParallelError(.workerCrashed)` naming the record, and the pool carries on.
@Sendable func crashExample() async throws {
    let records = ["width:640", "height:480", "depth", "scale:2"]
    print("records: \(records)")
    do {
        let values = try await Parallel(nJobs: 2, backend: "process")(records.map { ParseRecordJob(record: $0) })
        print("parsed: \(values)")
    } catch let error as ParallelError where error.code == .workerCrashed {
        // The description ends with the worker's stderr (the backtrace); the first sentence says
        // what happened.
        let summary = error.description.components(separatedBy: " Its last lines on stderr").first ?? error.description
        print(
            "caught ParallelError.\(error.code) for task \(error.taskIndex ?? -1) (\"\(records[error.taskIndex ?? 0])\"):"
        )
        print("  \(summary)")
    }
    let good = records.filter { $0.contains(":") }
    let values = try await Parallel(nJobs: 2, backend: "process")(good.map { ParseRecordJob(record: $0) })
    print(
        "the program is still here, and so is the pool (the dead worker was replaced): \(zip(good, values).map { "\($0)=\($1)" })"
    )
}
