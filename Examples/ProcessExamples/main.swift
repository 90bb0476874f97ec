// `swift run process-examples`: the process backends' examples. Each example is one
// small function in its own file.
//
//     swift run process-examples                 # every example
//     swift run process-examples crash shared    # only these
//     swift run process-examples --list          # the names
import Foundation
import ParallelKit

/// One example: the name to run it by, a heading, and the code.
struct Example: Sendable {
    var name: String
    var title: String
    var run: @Sendable () async throws -> Void
}

let examples = [
    Example(name: "crash", title: "A crashing C call becomes an error, not the end of the program", run: crashExample),
    Example(
        name: "keep-going", title: "Keep going: crashing records are reported, every other result kept",
        run: keepGoingExample),
    Example(name: "shared", title: "Workers fill one shared output array", run: sharedOutputExample),
    Example(name: "legacy", title: "A C library that is not thread-safe, run in parallel", run: legacyLibraryExample),
    Example(
        name: "serialization", title: "What can cross to a worker process, and what cannot", run: serializationExample),
]

let arguments = CommandLine.arguments.dropFirst()
if arguments.contains("--list") || arguments.contains("-h") || arguments.contains("--help") {
    print("usage: process-examples [example…]   (default: all, in order)")
    for example in examples {
        print("  \(example.name.padding(toLength: 15, withPad: " ", startingAt: 0))\(example.title)")
    }
} else {
    let unknown = arguments.filter { name in !examples.contains { $0.name == name } }
    if !unknown.isEmpty {
        print("unknown example(s): \(unknown.joined(separator: ", ")); run `process-examples --list`")
        exit(2)
    }
    let selected = arguments.isEmpty ? examples : examples.filter { arguments.contains($0.name) }
    for (number, example) in selected.enumerated() {
        if number > 0 { print() }
        print("== \(example.title) ==")
        fflush(nil)
        try await example.run()
        fflush(nil)
    }
}
