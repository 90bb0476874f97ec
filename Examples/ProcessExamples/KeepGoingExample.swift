import Foundation
import ParallelKit

/// A long run should not be all-or-nothing: `results` keeps every record the C parser can read and
/// reports the ones that crash it, each blamed on its own record — the records that shared a
/// worker with a crash run again on a fresh worker and are kept.
@Sendable func keepGoingExample() async throws {
    let records = (0..<24).map { $0 % 7 == 3 ? "broken-\($0)" : "field\($0):\($0 * 10)" }
    let fates = try await Parallel(nJobs: 2, backend: "process", batchSize: 4)
        .results(records.map { ParseRecordJob(record: $0) })
    var parsed: [String] = []
    for (record, fate) in zip(records, fates) {
        switch fate {
        case .success(let value):
            parsed.append("\(value)")
        case .failure(let failure):
            let code = (failure.error as? ParallelError)?.code.description ?? "\(failure.error)"
            print("record \(failure.taskIndex) (\"\(record)\") failed: \(code) after \(failure.attempts) attempt(s)")
        }
    }
    print("kept \(parsed.count) of \(records.count) results: \(parsed.joined(separator: " "))")
}
