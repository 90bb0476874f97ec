// `swift run generator-streaming`: joblib's gallery page "Returning a generator in
// joblib.Parallel", in Swift. Each task returns a large array; consuming the results as a
// generator keeps memory flat (a few rounds of results at most wait), where collecting them as a
// list holds all of them at once.
import Foundation
import ParallelKit

/// 512 KiB of values derived from `seed`.
struct MakeBlock: ParallelJob {
    var seed: Int
    func run() async throws -> [Double] {
        (0..<65_536).map { Double(($0 &* 2_654_435_761 &+ seed) & 0xFFFF) / 65_536 }
    }
}

/// The process's peak resident memory so far (VmHWM), in MiB.
func peakResidentMiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return -1 }
    return kib / 1024
}

let blocks = 400  // 200 MiB produced in all
let tasks = (0..<blocks).map { MakeBlock(seed: $0) }
let before = peakResidentMiB()

// The generator: each 512 KiB result is reduced and dropped before the next is taken.
var total = 0.0
for try await block in Parallel(nJobs: 2).generator(tasks) { total += block.reduce(0, +) }
let streamed = peakResidentMiB()
print(
    "generator: sum \(String(format: "%.1f", total)), peak memory \(streamed) MiB (was \(before) MiB) for \(blocks / 2) MiB of results"
)

// The list: all results exist at once.
let all = try await Parallel(nJobs: 2)(tasks)
let listed = peakResidentMiB()
print("list:      sum \(String(format: "%.1f", all.map { $0.reduce(0, +) }.reduce(0, +))), peak memory \(listed) MiB")
// The generator's bound is the engine's backpressure rule (about two rounds of batches), not the
// number of tasks: double `blocks` and the list doubles, the generator does not.
precondition(streamed - before < (listed - before) / 2, "the generator should not hold most results at once")
