// progress-bar-demo: what `progress: .bar` draws, on this terminal or in a log.
//
// It simulates calls by driving the engine's progress channel directly (tasks that take a few
// milliseconds each, two calls at once, a verbose line printed above the bars, a few failures),
// so the bar can be judged by eye: `swift run progress-bar-demo` in a terminal, or
// `swift run progress-bar-demo 2> log.txt` for the plain lines.
//
// Options: --tasks N (default 200), --millis M per task (default 15), --one (a single call),
// --cost (what one `tasksCompleted` costs the engine with a counting handler, 1M calls).
import Dispatch
import ParallelCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

var tasks = 200
var millis = 15
var two = true
var cost = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--tasks": tasks = arguments.next().flatMap { Int($0) } ?? tasks
    case "--millis": millis = arguments.next().flatMap { Int($0) } ?? millis
    case "--one": two = false
    case "--cost": cost = true
    default:
        StandardError.write("usage: progress-bar-demo [--tasks N] [--millis M] [--one]\n")
        exit(2)
    }
}

struct Simulated: Error, CustomStringConvertible {
    var description: String { "simulated failure" }
}

/// One simulated call: `nJobs` lanes, each finishing a task every `millis` ms (± a little).
func simulate(backend: String, nJobs: Int, total: Int, millis: Int, failEvery: Int?) async {
    let channel = ProgressChannel(.bar)
    channel.start(total: total, backend: backend, nJobs: nJobs, now: MonotonicClock.now())
    var finished = 0
    while finished < total {
        try? await Task.sleep(for: .milliseconds(millis * (1 + finished % 3) / 2))
        let batch = min(nJobs, total - finished)
        for offset in 0..<batch {
            let index = finished + offset
            if let failEvery, index % failEvery == failEvery - 1 {
                channel.taskFailed(
                    TaskFailure(taskIndex: index, error: Simulated(), attempts: 1), willRetry: false,
                    now: MonotonicClock.now())
            } else {
                channel.tasksCompleted(count: 1, now: MonotonicClock.now())
            }
        }
        finished += batch
        if finished == total / 2 {
            channel.printAbove(
                "[Parallel(n_jobs=\(nJobs))]: Done \(finished) tasks (a verbose line, printed above the bars)")
        }
    }
    channel.finish(now: MonotonicClock.now())
    await channel.waitUntilDelivered()
}

/// Times a million one-task completions reported one by one, the worst case for the engine.
func measureCost() async {
    final class Counter: Sendable {
        let events = Atomic<Int>(0)
    }
    let counter = Counter()
    let channel = ProgressChannel(.handler { _ in counter.events.add(1, ordering: .relaxed) })
    let calls = 1_000_000
    let start = MonotonicClock.now()
    channel.start(total: calls, backend: "cost", nJobs: 1, now: start)
    for _ in 0..<calls { channel.tasksCompleted(count: 1, now: MonotonicClock.now()) }
    channel.finish(now: MonotonicClock.now())
    let engineTime = MonotonicClock.now() - start
    await channel.waitUntilDelivered()
    print(
        "tasksCompleted: \(Double(engineTime) / Double(calls)) ns per call (clock read included); "
            + "\(counter.events.load(ordering: .relaxed)) events delivered for \(calls) completions")
}

if cost {
    await measureCost()
} else if two {
    async let first: Void = simulate(backend: "threading", nJobs: 2, total: tasks, millis: millis, failEvery: nil)
    async let second: Void = simulate(backend: "process", nJobs: 4, total: tasks * 3 / 2, millis: millis, failEvery: 50)
    _ = await (first, second)
} else {
    await simulate(backend: "threading", nJobs: 2, total: tasks, millis: millis, failEvery: nil)
}
