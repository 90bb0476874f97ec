// `swift run parallel-demo`: the examples of joblib's `Parallel` documentation, in Swift, in the
// order the documentation gives them. Each example is one small function in its own file.
//
//     swift run parallel-demo                      # every example
//     swift run parallel-demo producer generators  # only these
//     swift run parallel-demo --list               # the names
import Foundation
import ParallelKit

/// One example: the name to run it by, a heading, joblib's code, and the Swift.
struct Example: Sendable {
    var name: String
    var title: String
    var joblib: String
    var run: @Sendable () async throws -> Void
}

let examples = [
    Example(
        name: "sqrt", title: "A simple example: sqrt with nJobs 1",
        joblib: "Parallel(n_jobs=1)(delayed(sqrt)(i**2) for i in range(10))",
        run: sqrtExample),
    Example(
        name: "modf", title: "Reshaping the output when the function has several return values",
        joblib: "r = Parallel(n_jobs=1)(delayed(modf)(i/2.) for i in range(10)); res, i = zip(*r)",
        run: modfExample),
    Example(
        name: "progress", title: "The progress meter: the higher verbose, the more messages",
        joblib: "Parallel(n_jobs=2, verbose=10)(delayed(sleep)(.2) for _ in range(10))",
        run: progressExample),
    Example(
        name: "errors", title: "A task error, and ParallelKit's own errors",
        joblib: "Parallel(n_jobs=2)(delayed(nlargest)(2, n) for n in (range(4), 'abcde', 3))",
        run: errorExample),
    Example(
        name: "producer", title: "pre_dispatch in a producer/consumer situation",
        joblib: "Parallel(n_jobs=2, verbose=100, pre_dispatch='1.5*n_jobs')(delayed(sqrt)(i) for i in producer())",
        run: producerExample),
    Example(
        name: "generators", title: "Returning a generator: return_as='generator' and 'generator_unordered'",
        joblib:
            "Parallel(n_jobs=2, return_as='generator')(...); Parallel(n_jobs=2, return_as='generator_unordered')(...)",
        run: generatorExample),
]

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--list") || arguments.contains("-h") || arguments.contains("--help") {
    print("usage: parallel-demo [example…]   (default: all, in order)")
    for example in examples { print("  \(example.name.padding(12))\(example.title)") }
} else {
    let unknown = arguments.filter { name in !examples.contains { $0.name == name } }
    if !unknown.isEmpty {
        print("unknown example(s): \(unknown.joined(separator: ", ")); run `parallel-demo --list`")
        exit(2)
    }
    let selected = arguments.isEmpty ? examples : examples.filter { arguments.contains($0.name) }
    for (number, example) in selected.enumerated() {
        if number > 0 { print() }
        print("== \(example.title) ==")
        print("joblib: \(example.joblib)")
        flushOutput()
        try await example.run()
        flushOutput()
    }
}
